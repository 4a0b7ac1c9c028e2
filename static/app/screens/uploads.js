// The uploads under way on a page: one row per file with its progress bar, a Cancel button while it runs, and
// its outcome in words. Several files upload at once.
import { html, useCallback, useEffect, useRef, useState } from '../lib.js';
import { upload } from '../upload.js';
import { bytes } from '../ui.js';

let uploadIds = 0;

// const { items, start } = useUploads(onDone); start(file, path, formFields) for each file.
export function useUploads(onDone) {
    const [items, setItems] = useState([]);
    const cancels = useRef(new Map());
    const finished = useRef(onDone);
    finished.current = onDone; // the page's latest: an upload may end after a search changed what it lists
    const change = (id, patch) => setItems((list) => list.map((item) => (item.id === id ? { ...item, ...patch } : item)));
    const start = useCallback((file, path, { method = 'POST', fields = {} } = {}) => {
        const id = ++uploadIds;
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        form.append('file', file, file.name);
        setItems((list) => [...list, { id, name: file.name, sent: 0, total: file.size, state: 'running', error: null }]);
        // the request's body is the file plus the form's framing: its share sent, in the file's bytes
        const progress = (sent, total) => change(id, { sent: Math.min(file.size, Math.round((sent / total) * file.size)) });
        const running = upload(path, form, { method, onProgress: progress });
        cancels.current.set(id, running.cancel);
        running.promise.then(
            (data) => {
                change(id, { state: 'done', sent: file.size });
                finished.current?.(data);
            },
            (error) => change(id, error.name === 'AbortError' ? { state: 'cancelled' } : { state: 'failed', error }),
        ).finally(() => cancels.current.delete(id));
    }, []);
    const running = items.some((item) => item.state === 'running');
    useEffect(() => {
        if (!running) return undefined;
        const stay = (event) => event.preventDefault(); // the browser asks before closing the tab mid-upload
        addEventListener('beforeunload', stay);
        return () => removeEventListener('beforeunload', stay);
    }, [running]);
    const cancel = (id) => cancels.current.get(id)?.();
    const clear = () => setItems((list) => list.filter((item) => item.state === 'running'));
    return { items, start, cancel, clear };
}

const STATE_WORDS = { done: 'Uploaded', cancelled: 'Cancelled', failed: 'Failed' };

export function UploadList({ uploads }) {
    const { items, cancel, clear } = uploads;
    if (items.length === 0) return null;
    return html`<div class="uploads">
        <ul class="upload-list" aria-label="Uploads">
            ${items.map((item) => {
                const percent = item.total ? Math.floor((item.sent / item.total) * 100) : 0;
                return html`<li key=${item.id} class=${`upload upload-${item.state}`} data-testid="upload">
                    <div class="upload-head">
                        <span class="upload-name">${item.name}</span>
                        <span class="upload-state" data-testid="upload-state">${item.state === 'running' ? `${percent} %` : STATE_WORDS[item.state]}</span>
                    </div>
                    <progress max="100" value=${item.state === 'done' ? 100 : percent} aria-label=${`Upload of ${item.name}`}></progress>
                    <div class="upload-foot">
                        <small>${bytes(item.sent)} of ${bytes(item.total)}</small>
                        ${item.state === 'running' && html`<button type="button" class="secondary" onClick=${() => cancel(item.id)} aria-label=${`Cancel the upload of ${item.name}`}>Cancel</button>`}
                    </div>
                    ${item.error && html`<p class="field-error" role="alert">${item.error.message}</p>`}
                </li>`;
            })}
        </ul>
        ${items.some((item) => item.state !== 'running') && html`<p><button type="button" class="link" onClick=${clear}>Clear finished uploads</button></p>`}
    </div>`;
}
