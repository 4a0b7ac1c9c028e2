// Cloud: the user's files (search, pages), the storage used against the quota, and uploads with progress.
import { api, download } from '../api.js';
import { html, useCallback, useState } from '../lib.js';
import { AsyncView, Field, Pager, bytes, toast, useAsync, useDebounced, when } from '../ui.js';
import { UploadList, useUploads } from './uploads.js';

const PAGE = 20;

function Usage({ usage }) {
    return html`<${AsyncView} state=${usage} render=${(u) => html`
        <div class="usage" data-testid="cloud-usage">
            <p>${bytes(u.used_bytes)} used of ${bytes(u.quota_bytes)} · ${u.files} ${u.files === 1 ? 'file' : 'files'} · up to ${bytes(u.upload_max_bytes)} per file</p>
            <progress max=${u.quota_bytes} value=${u.used_bytes} aria-label="Storage used"></progress>
        </div>`} />`;
}

export default function Cloud() {
    const [search, setSearch] = useState('');
    const [offset, setOffset] = useState(0);
    const term = useDebounced(search.trim(), 300);
    const files = useAsync(() => api('/cloud/files', { query: { search: term, limit: PAGE, offset } }), [term, offset]);
    const usage = useAsync(() => api('/cloud/usage'));
    const refresh = useCallback(() => { files.reload(); usage.reload(); }, [files.reload, usage.reload]);
    const uploads = useUploads(refresh);
    const choose = (event) => {
        for (const file of event.currentTarget.files) uploads.start(file, '/cloud/files');
        event.currentTarget.value = '';
    };
    const fetchFile = (file) => download(`/cloud/files/${file.id}/download`, file.name).catch((e) => toast(e.message, 'error'));
    return html`<section>
        <h1>Cloud</h1>
        <${Usage} usage=${usage} />
        <div class="field">
            <label for="cloud-upload">Upload files</label>
            <input id="cloud-upload" type="file" multiple onChange=${choose} />
        </div>
        <${UploadList} uploads=${uploads} />
        <h2>Your files</h2>
        <${Field} label="Search by name" type="search" value=${search} onValue=${(v) => { setSearch(v); setOffset(0); }} />
        <${AsyncView} state=${files} isEmpty=${(d) => d.total === 0}
            empty=${term ? 'No file matches this search.' : 'No files yet: upload one above.'}
            render=${(d) => html`
                <ul class="item-rows" aria-label="Your files">
                    ${d.files.map((file) => html`<li key=${file.id} class="item-row" data-testid="cloud-file">
                        <span><a href=${`/cloud/${file.id}`}><strong>${file.name}</strong></a></span>
                        <span>${bytes(file.size_bytes)} · version ${file.current_version} · changed ${when(file.updated_at)}</span>
                        <span class="row-actions"><button type="button" class="secondary" onClick=${() => fetchFile(file)} aria-label=${`Download ${file.name}`}>Download</button></span>
                    </li>`)}
                </ul>
                <${Pager} total=${d.total} limit=${PAGE} offset=${offset} onOffset=${setOffset} label="Pages of files" />`} />
    </section>`;
}
