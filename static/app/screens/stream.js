// One stream, following its own channel `live:<id>`.
import { api } from '../api.js';
import { html } from '../lib.js';
import { AsyncView, useAsync, when } from '../ui.js';
import { useChannel } from '../ws.js';
import { LiveBadge, Viewers, applyEvent } from './live-common.js';

export default function Stream({ params }) {
    const stream = useAsync(({ fresh }) => api(`/live/streams/${params.id}`, { fresh }), [params.id]);
    useChannel(stream.data ? `live:${stream.data.id}` : null, (message) => {
        if (message.type === 'subscribed') stream.reload();
        else stream.setData((s) => applyEvent(s, message));
    });
    return html`<section>
        <p><a href="/live">All streams</a></p>
        <${AsyncView} state=${stream} render=${(s) => html`
            <h1>${s.title}</h1>
            <p class="status-line" aria-live="polite"><${LiveBadge} stream=${s} /> <${Viewers} stream=${s} /></p>
            ${s.description && html`<p>${s.description}</p>`}
            ${s.category && html`<p class="meta">Category: ${s.category}</p>`}
            ${s.tags.length > 0 && html`<p class="meta">Tags: ${s.tags.join(', ')}</p>`}
            <p class="meta">${s.is_live ? `Live since ${when(s.started_at)}` : s.ended_at ? `Ended ${when(s.ended_at)}` : 'Not started yet'}</p>`} />
    </section>`;
}
