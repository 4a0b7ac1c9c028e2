// The streams, live ones first; their LIVE badges and viewer counts follow the `live` channel.
import { api } from '../api.js';
import { html, useState } from '../lib.js';
import { AsyncView, Pager, useAsync, when } from '../ui.js';
import { useChannel } from '../ws.js';
import { LiveBadge, Viewers, applyEvent } from './live-common.js';

const LIMIT = 20;

export default function Live() {
    const [offset, setOffset] = useState(0);
    const streams = useAsync(({ fresh }) => api('/live/streams', { query: { limit: LIMIT, offset }, fresh }), [offset]);
    useChannel('live', (message) => {
        if (message.type === 'subscribed') return streams.reload();
        const known = streams.data?.streams.some((s) => String(s.id) === String(message.data?.id));
        if (!known && message.event === 'stream.started') return streams.reload(); // a stream not listed yet
        streams.setData((d) => d && { ...d, streams: d.streams.map((s) => applyEvent(s, message)) });
    });
    return html`<section>
        <h1>Live</h1>
        <${AsyncView} state=${streams} isEmpty=${(d) => d.streams.length === 0} empty="No streams yet."
            render=${(d) => html`<ul class="cards">${d.streams.map((s) => html`<li key=${s.id} class="card" data-testid="stream-card">
                <h2><a href=${`/live/${s.id}`}>${s.title}</a></h2>
                <p><${LiveBadge} stream=${s} /> <${Viewers} stream=${s} /></p>
                <p class="meta">${s.is_live ? `Live since ${when(s.started_at)}` : s.ended_at ? `Last live ${when(s.ended_at)}` : 'Not started yet'}</p>
            </li>`)}</ul>
            <${Pager} total=${d.total} limit=${LIMIT} offset=${offset} onOffset=${setOffset} label="Stream pages" />`} />
    </section>`;
}
