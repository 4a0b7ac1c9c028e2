// One cloud file: its details, a new version uploaded with progress, its versions (download, restore), its
// share links (create with an expiry, copy, revoke, downloads counted), and deleting it.
import { api, download } from '../api.js';
import { html, useCallback, useState } from '../lib.js';
import { navigate } from '../router.js';
import {
    AsyncView, Badge, Confirm, CopyButton, ErrorBox, Field, Submit, bytes, toast, useAsync, useSubmit, when,
} from '../ui.js';
import { UploadList, useUploads } from './uploads.js';

const EXPIRIES = [
    { hours: 1, label: '1 hour' },
    { hours: 24, label: '1 day' },
    { hours: 168, label: '7 days' },
    { hours: 720, label: '30 days' },
];

// The client's own page for a share token: it shows the file and downloads it, no account needed.
export function shareLink(token) {
    return `${location.origin}/s/${token}`;
}

function Versions({ file, versions, onRestored }) {
    const [asking, setAsking] = useState(null);
    const restore = async () => {
        const restored = await api(`/cloud/files/${file.id}/restore/${asking}`, { method: 'POST' });
        toast(`Version ${asking} is current again, as version ${restored.current_version}.`);
        setAsking(null);
        onRestored(restored);
    };
    return html`<section aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        <${AsyncView} state=${versions} render=${(d) => html`
            <ul class="item-rows" aria-label="Versions">
                ${d.versions.map((v) => html`<li key=${v.id} class="item-row" data-testid="version">
                    <span><strong>Version ${v.version}</strong> ${v.version === file.current_version && html`<${Badge} kind="ok">Current<//>`}</span>
                    <span>${bytes(v.size_bytes)} · ${when(v.created_at)}</span>
                    <span class="row-actions">
                        <button type="button" class="secondary" aria-label=${`Download version ${v.version}`}
                            onClick=${() => download(`/cloud/files/${file.id}/download?version=${v.version}`, file.name).catch((e) => toast(e.message, 'error'))}>Download</button>
                        ${v.version !== file.current_version && html`<button type="button" aria-label=${`Restore version ${v.version}`} onClick=${() => setAsking(v.version)}>Restore</button>`}
                    </span>
                </li>`)}
            </ul>`} />
        <${Confirm} open=${asking !== null} title=${`Restore version ${asking}?`} confirmLabel="Restore"
            message="Its content becomes the current version; no version is lost."
            onConfirm=${restore} onCancel=${() => setAsking(null)} />
    </section>`;
}

function shareState(share) {
    if (share.revoked_at) return html`<${Badge} kind="neutral">Revoked<//>`;
    if (!share.active) return html`<${Badge} kind="danger">Expired<//>`;
    return html`<${Badge} kind="ok">Active<//>`;
}

function Shares({ file }) {
    const shares = useAsync(() => api(`/cloud/files/${file.id}/shares`, { query: { limit: 50 } }), [file.id]);
    const [hours, setHours] = useState('24');
    const [created, setCreated] = useState(null);
    const [revoking, setRevoking] = useState(null);
    const create = useSubmit(async () => {
        setCreated(await api(`/cloud/files/${file.id}/share`, { method: 'POST', body: { expires_in_hours: Number(hours) } }));
        shares.reload();
    });
    const revoke = async () => {
        await api(`/cloud/shares/${revoking}`, { method: 'DELETE' });
        if (created?.id === revoking) setCreated(null);
        setRevoking(null);
        toast('The link no longer works.');
        shares.reload();
    };
    return html`<section aria-labelledby="shares-title">
        <h2 id="shares-title">Share links</h2>
        <form onSubmit=${create.submit} class="inline-form">
            <${ErrorBox} error=${create.error} />
            <${Field} label="Link expires after" as="select" value=${hours} onValue=${setHours}>
                ${EXPIRIES.map((e) => html`<option value=${String(e.hours)}>${e.label}</option>`)}
            <//>
            <${Submit} busy=${create.busy}>Create a share link<//>
        </form>
        ${created && html`<div class="card new-link" role="status">
            <p>Anyone with this link can download the file until ${when(created.expires_at)}. It is shown only now: copy it.</p>
            <p class="link-text"><a href=${shareLink(created.token)} data-testid="new-share-link">${shareLink(created.token)}</a></p>
            <${CopyButton} text=${shareLink(created.token)} label="Copy the link" />
        </div>`}
        <${AsyncView} state=${shares} isEmpty=${(d) => d.total === 0} empty="No share links yet."
            render=${(d) => html`<ul class="item-rows" aria-label="Share links">
                ${d.shares.map((s) => html`<li key=${s.id} class="item-row" data-testid="share">
                    <span>${shareState(s)} Created ${when(s.created_at)}</span>
                    <span>${s.revoked_at ? `Revoked ${when(s.revoked_at)}` : `Expires ${when(s.expires_at)}`} · <span data-testid="share-downloads">${s.download_count} ${s.download_count === 1 ? 'download' : 'downloads'}</span></span>
                    <span class="row-actions">${s.active && html`<button type="button" class="secondary" onClick=${() => setRevoking(s.id)}>Revoke</button>`}</span>
                </li>`)}
            </ul>
            <p><button type="button" class="link" onClick=${shares.reload}>Refresh the links</button></p>`} />
        <${Confirm} open=${revoking !== null} title="Revoke this link?" confirmLabel="Revoke" danger
            message="Whoever has it can no longer open or download the file." onConfirm=${revoke} onCancel=${() => setRevoking(null)} />
    </section>`;
}

export default function CloudFile({ params }) {
    const file = useAsync(() => api(`/cloud/files/${params.id}`), [params.id]);
    const versions = useAsync(() => api(`/cloud/files/${params.id}/versions`), [params.id]);
    const [deleting, setDeleting] = useState(false);
    const changed = useCallback((row) => { if (row) file.setData(row); versions.reload(); }, [file.setData, versions.reload]);
    const uploads = useUploads(changed);
    const chooseVersion = (event) => {
        const chosen = event.currentTarget.files[0];
        if (chosen) uploads.start(chosen, `/cloud/files/${params.id}/content`, { method: 'PUT' });
        event.currentTarget.value = '';
    };
    const remove = async () => {
        await api(`/cloud/files/${params.id}`, { method: 'DELETE' });
        toast('The file is deleted.');
        navigate('/cloud');
    };
    return html`<section>
        <p><a href="/cloud">Back to your files</a></p>
        <${AsyncView} state=${file} render=${(f) => html`
            <h1>${f.name}</h1>
            <dl class="facts">
                <dt>Size</dt><dd data-testid="file-size">${bytes(f.size_bytes)} (${f.size_bytes} bytes)</dd>
                <dt>Type</dt><dd>${f.content_type}</dd>
                <dt>Version</dt><dd data-testid="file-version">${f.current_version}</dd>
                <dt>Changed</dt><dd>${when(f.updated_at)}</dd>
                ${f.tags.length > 0 && html`<dt>Tags</dt><dd>${f.tags.join(', ')}</dd>`}
            </dl>
            <p class="actions start">
                <button type="button" onClick=${() => download(`/cloud/files/${f.id}/download`, f.name).catch((e) => toast(e.message, 'error'))}>Download</button>
                <button type="button" class="danger" onClick=${() => setDeleting(true)}>Delete the file</button>
            </p>
            <div class="field">
                <label for="new-version">Upload a new version</label>
                <input id="new-version" type="file" onChange=${chooseVersion} />
            </div>
            <${UploadList} uploads=${uploads} />
            <${Versions} file=${f} versions=${versions} onRestored=${changed} />
            <${Shares} file=${f} />
            <${Confirm} open=${deleting} title=${`Delete ${f.name}?`} confirmLabel="Delete" danger
                message="Every version and share link goes with it." onConfirm=${remove} onCancel=${() => setDeleting(false)} />`} />
    </section>`;
}
