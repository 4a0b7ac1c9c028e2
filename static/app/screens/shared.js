// A share link opened by anyone, signed in or not: the file's name, size and expiry, and its download.
import { API, api } from '../api.js';
import { html } from '../lib.js';
import { AsyncView, bytes, useAsync, when } from '../ui.js';

export default function Shared({ params }) {
    const token = encodeURIComponent(params.token);
    const shared = useAsync(() => api(`/cloud/shared/${token}`), [token]);
    return html`<section class="narrow">
        <h1>${shared.data ? shared.data.name : 'Shared file'}</h1>
        <${AsyncView} state=${shared} render=${(f) => html`
            <p>Shared with you: ${bytes(f.size_bytes)}, ${f.content_type}. The link works until ${when(f.expires_at)}.</p>
            <p><a class="button" href=${`${API}/cloud/shared/${token}/download`} download=${f.name}>Download ${f.name}</a></p>`} />
    </section>`;
}
