// What the live screens share: a stream's state in words and colour, and applying a `live` event to a stream.
import { html } from '../lib.js';
import { Badge } from '../ui.js';

export function LiveBadge({ stream }) {
    return stream.is_live
        ? html`<${Badge} kind="live"><span data-testid="live-state">LIVE</span><//>`
        : html`<${Badge} kind="neutral"><span data-testid="live-state">${stream.ended_at ? 'Ended' : 'Offline'}</span><//>`;
}

export function Viewers({ stream }) {
    const n = stream.viewer_count || 0;
    return html`<span class="meta" data-testid="viewers">${n} viewer${n === 1 ? '' : 's'}</span>`;
}

// stream.started / stream.ended / stream.updated carry the whole public stream; stream.viewers only its count.
export function applyEvent(stream, message) {
    if (!stream || String(message.data?.id) !== String(stream.id)) return stream;
    return { ...stream, ...message.data };
}
