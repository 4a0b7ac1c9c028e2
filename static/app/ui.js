// Shared components and helpers. Every screen builds on these, so that labels, errors, loading and empty
// states, paging, dialogs and messages look and behave the same everywhere.
import { html, useCallback, useEffect, useId, useRef, useState } from './lib.js';

// --- data ---------------------------------------------------------------------------------------------

// const { data, error, loading, reload, setData } = useAsync(({ fresh }) => api('/x', { fresh }), [deps])
// `fresh` is false on the first load and true on reload(): a reload follows a change, so it must not be
// answered from the browser's HTTP cache (public API answers such as products are cacheable for a while).
export function useAsync(load, deps = []) {
    const [state, setState] = useState({ data: null, error: null, loading: true });
    const run = useRef(0);
    const reload = useCallback(async (fresh = true) => {
        const mine = ++run.current;
        setState((s) => ({ ...s, loading: true, error: null }));
        try {
            const data = await load({ fresh });
            if (mine === run.current) setState({ data, error: null, loading: false });
        } catch (error) {
            if (mine === run.current && error.name !== 'AbortError') setState((s) => ({ ...s, error, loading: false }));
        }
    }, deps);
    useEffect(() => { reload(false); }, [reload]);
    const setData = useCallback((update) => setState((s) => ({
        ...s, data: typeof update === 'function' ? update(s.data) : update,
    })), []);
    return { ...state, reload, setData };
}

export function useDebounced(value, ms = 250) {
    const [settled, setSettled] = useState(value);
    useEffect(() => {
        const timer = setTimeout(() => setSettled(value), ms);
        return () => clearTimeout(timer);
    }, [value, ms]);
    return settled;
}

export function money(cents, currency = 'EUR') {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format((cents || 0) / 100);
}

export function when(iso) {
    return iso ? new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso)) : '';
}

export function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let value = n || 0;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

// --- forms --------------------------------------------------------------------------------------------

// <${Field} label="Email" type="email" value=${email} onValue=${setEmail} error=${err?.field('email')} />
export function Field({ label, type = 'text', value, onValue, error, hint, as = 'input', children, ...rest }) {
    const id = useId();
    const describedBy = [error && `${id}-error`, hint && `${id}-hint`].filter(Boolean).join(' ') || undefined;
    const common = {
        id, value, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': describedBy,
        onInput: (event) => onValue?.(event.currentTarget.value), ...rest,
    };
    let control;
    if (as === 'textarea') control = html`<textarea ...${common}></textarea>`;
    else if (as === 'select') control = html`<select ...${common} onChange=${common.onInput}>${children}</select>`;
    else control = html`<input type=${type} ...${common} />`;
    return html`<div class="field">
        <label for=${id}>${label}</label>
        ${control}
        ${hint && html`<small id=${`${id}-hint`} class="hint">${hint}</small>`}
        ${error && html`<small id=${`${id}-error`} class="field-error">${error}</small>`}
    </div>`;
}

// The error of a failed call, in words; the field-level details are shown next to their fields.
export function ErrorBox({ error, retry }) {
    if (!error) return null;
    return html`<div class="error-box" role="alert">
        <p>${error.message || String(error)}</p>
        ${error.details?.length > 0 && html`<ul>${error.details.map((d) => html`<li>${fieldName(d.field)}${d.message}</li>`)}</ul>`}
        ${retry && html`<button type="button" class="secondary" onClick=${retry}>Try again</button>`}
    </div>`;
}

function fieldName(field) {
    const name = String(field ?? '').split('.').pop();
    return name && name !== 'body' ? `${name.replaceAll('_', ' ')}: ` : '';
}

export function Loading({ label = 'Loading…' }) {
    return html`<p class="loading" role="status" aria-live="polite"><span class="spinner" aria-hidden="true"></span>${label}</p>`;
}

export function Empty({ children }) {
    return html`<p class="empty">${children}</p>`;
}

// What a loaded view shows: loading, its error (with a retry), its empty state, or render(data).
// <${AsyncView} state=${products} isEmpty=${(d) => d.total === 0} empty="No products yet." render=${(d) => ...} />
export function AsyncView({ state, isEmpty = () => false, empty = 'Nothing here yet.', render }) {
    if (state.error && !state.data) return html`<${ErrorBox} error=${state.error} retry=${state.reload} />`;
    if (!state.data) return html`<${Loading} />`;
    return html`${state.error && html`<${ErrorBox} error=${state.error} retry=${state.reload} />`}
        ${isEmpty(state.data) ? html`<${Empty}>${empty}<//>` : render(state.data)}`;
}

export function Pager({ total, limit, offset, onOffset, label = 'Pages' }) {
    if (!total || total <= limit) return null;
    const page = Math.floor(offset / limit) + 1;
    const pages = Math.ceil(total / limit);
    return html`<nav class="pager" aria-label=${label}>
        <button type="button" class="secondary" disabled=${offset === 0} onClick=${() => onOffset(Math.max(0, offset - limit))}>Previous</button>
        <span>Page ${page} of ${pages}</span>
        <button type="button" class="secondary" disabled=${page >= pages} onClick=${() => onOffset(offset + limit)}>Next</button>
    </nav>`;
}

// const form = useSubmit(async () => { await api('/x', { method: 'POST', body }); toast('Saved.'); });
// <form onSubmit=${form.submit}> <${ErrorBox} error=${form.error} /> ... <${Submit} busy=${form.busy}>Save<//>
// submit(event) stops the page load (the event is optional: a button's onClick works too), clears the last
// error and runs the action, one run at a time: a submit while it runs is ignored. busy is true while it runs;
// what the action throws (the ApiError, or a { message } of the screen's own check) becomes `error`. Nothing is
// reset on failure, so what the user typed stays. { keepBusy: true } is for an action that leaves the page on
// success: the form stays busy until it is gone, so a second press cannot send the call again.
export function useSubmit(action, { keepBusy = false } = {}) {
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState(null);
    const running = useRef(false);
    const submit = async (event) => {
        event?.preventDefault();
        if (running.current) return;
        running.current = true;
        setBusy(true);
        setError(null);
        try {
            await action();
            if (keepBusy) return;
        } catch (e) {
            setError(e);
        }
        running.current = false;
        setBusy(false);
    };
    return { busy, error, submit, setError };
}

// A button that shows it is busy and cannot be pressed twice.
export function Submit({ busy, children, ...rest }) {
    return html`<button type="submit" disabled=${busy} aria-busy=${busy ? 'true' : undefined} ...${rest}>${busy ? 'Please wait…' : children}</button>`;
}

// --- dialogs ------------------------------------------------------------------------------------------

// A modal <dialog>: focus stays inside, Escape closes it (onClose).
export function Dialog({ open, title, onClose, children }) {
    const ref = useRef(null);
    const titleId = useId();
    useEffect(() => {
        const dialog = ref.current;
        if (open && !dialog.open) dialog.showModal();
        if (!open && dialog.open) dialog.close();
    }, [open]);
    return html`<dialog ref=${ref} aria-labelledby=${titleId} onCancel=${(e) => { e.preventDefault(); onClose?.(); }}>
        <h2 id=${titleId}>${title}</h2>
        ${open && children}
    </dialog>`;
}

// <${Confirm} open=${asking} title="Regenerate the key?" confirmLabel="Regenerate" onConfirm=... onCancel=... />
export function Confirm({ open, title, message, confirmLabel = 'Confirm', danger = false, onConfirm, onCancel }) {
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState(null);
    const confirm = async () => {
        setBusy(true);
        setError(null);
        try {
            await onConfirm();
        } catch (e) {
            setError(e);
        } finally {
            setBusy(false);
        }
    };
    return html`<${Dialog} open=${open} title=${title} onClose=${onCancel}>
        ${message && html`<p>${message}</p>`}
        <${ErrorBox} error=${error} />
        <div class="actions">
            <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
            <button type="button" class=${danger ? 'danger' : ''} disabled=${busy} onClick=${confirm}>${busy ? 'Please wait…' : confirmLabel}</button>
        </div>
    <//>`;
}

// --- messages -----------------------------------------------------------------------------------------

const toastListeners = new Set();
let toastId = 0;

// toast('Saved') or toast('Could not save', 'error'): a short message read out by screen readers.
export function toast(text, kind = 'info') {
    const item = { id: ++toastId, text, kind };
    for (const listener of toastListeners) listener(item);
}

export function Toasts() {
    const [items, setItems] = useState([]);
    useEffect(() => {
        const add = (item) => {
            setItems((list) => [...list, item]);
            setTimeout(() => setItems((list) => list.filter((i) => i.id !== item.id)), 5000);
        };
        toastListeners.add(add);
        return () => toastListeners.delete(add);
    }, []);
    return html`<div class="toasts" role="status" aria-live="polite">
        ${items.map((item) => html`<p key=${item.id} class=${`toast ${item.kind}`}>${item.text}</p>`)}
    </div>`;
}

export function CopyButton({ text, label = 'Copy' }) {
    const [done, setDone] = useState(false);
    const copy = async () => {
        try {
            await navigator.clipboard.writeText(text);
            setDone(true);
            setTimeout(() => setDone(false), 2000);
        } catch {
            toast('Copying is not allowed here: select the text and copy it.', 'error');
        }
    };
    return html`<button type="button" class="secondary" onClick=${copy}>${done ? 'Copied' : label}</button>`;
}

// A status in colour and in words (colour alone says nothing to some users).
export function Badge({ kind = 'neutral', children }) {
    return html`<span class=${`badge badge-${kind}`}>${children}</span>`;
}
