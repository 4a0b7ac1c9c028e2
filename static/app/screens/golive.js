// For creators: the RTMP URL and stream key (hidden until revealed, copyable, regenerated after a confirmation),
// and their stream's status, turning LIVE the moment the encoder connects (the `live` channel).
import { api } from '../api.js';
import { html, useState } from '../lib.js';
import { useSession } from '../session.js';
import { AsyncView, Confirm, CopyButton, ErrorBox, toast, useAsync } from '../ui.js';
import { useChannel } from '../ws.js';
import { LiveBadge, Viewers } from './live-common.js';

function KeyPanel({ keyInfo, onRegenerated }) {
    const [shown, setShown] = useState(false);
    const [asking, setAsking] = useState(false);
    const regenerate = async () => {
        const fresh = await api('/live/streams/me/key/regenerate', { method: 'POST' });
        setAsking(false);
        onRegenerated(fresh);
        toast('A new stream key is ready; the old one no longer works.');
    };
    return html`<dl class="facts">
        <dt>Server (RTMP URL)</dt>
        <dd><code class="secret" data-testid="rtmp-url">${keyInfo.rtmp_url}</code> <${CopyButton} text=${keyInfo.rtmp_url} label="Copy the URL" /></dd>
        <dt>Stream key</dt>
        <dd>
            ${shown
                ? html`<code class="secret" data-testid="stream-key">${keyInfo.stream_key}</code>`
                : html`<span class="secret" aria-label="Stream key, hidden">••••••••••••</span>`}
            <button type="button" class="secondary" aria-pressed=${shown ? 'true' : 'false'} onClick=${() => setShown(!shown)}>${shown ? 'Hide the key' : 'Reveal the key'}</button>
            <${CopyButton} text=${keyInfo.stream_key} label="Copy the key" />
        </dd>
    </dl>
    <p><button type="button" class="danger" onClick=${() => setAsking(true)}>Regenerate the key</button></p>
    <${Confirm} open=${asking} title="Regenerate the stream key?" danger=${true} confirmLabel="Regenerate"
        message="Your encoder must then use the new key: the current one stops working at once (a broadcast already running goes on)."
        onConfirm=${regenerate} onCancel=${() => setAsking(false)} />`;
}

export default function GoLive() {
    const { user } = useSession();
    const key = useAsync(({ fresh }) => api('/live/streams/me/key', { fresh }));
    const [streamId, setStreamId] = useState(null); // the stream that went live last (a new one may start)
    const current = streamId || key.data?.stream_id;
    const stream = useAsync(({ fresh }) => (current ? api(`/live/streams/${current}`, { fresh }) : Promise.resolve(null)), [current]);
    useChannel('live', (message) => {
        if (message.type === 'subscribed') return stream.reload();
        const data = message.data || {};
        if (data.user_id && String(data.user_id) === String(user?.id)) {
            if (String(data.id) !== String(current)) setStreamId(data.id);
            stream.setData((s) => ({ ...(s || {}), ...data }));
        } else if (message.event === 'stream.viewers' && String(data.id) === String(current)) {
            stream.setData((s) => s && { ...s, viewer_count: data.viewer_count });
        }
    });
    return html`<section>
        <h1>Go live</h1>
        <p>Point your encoder (OBS, ffmpeg…) at this server with your stream key. Keep the key secret: anyone who has it can stream as you.</p>
        <${AsyncView} state=${key} render=${(k) => html`<${KeyPanel} keyInfo=${k} onRegenerated=${key.setData} />`} />
        <h2>Your stream</h2>
        ${stream.error && html`<${ErrorBox} error=${stream.error} retry=${stream.reload} />`}
        ${stream.data && html`<p class="status-line" aria-live="polite"><${LiveBadge} stream=${stream.data} /> <${Viewers} stream=${stream.data} /></p>
            <p class="meta">${stream.data.is_live ? 'You are live: fans see it now.' : 'Waiting for your encoder to connect.'}</p>`}
    </section>`;
}
