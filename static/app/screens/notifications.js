// Notifications: newest first, new ones arriving live; mark one or all read; each links to what it is about.
import { api } from '../api.js';
import { refreshUnread, setUnread } from '../bell.js';
import { html, useState } from '../lib.js';
import { AsyncView, ErrorBox, Pager, useAsync, when } from '../ui.js';
import { useChannel } from '../ws.js';

const LIMIT = 20;

// Where a notification leads, by what its data names.
export function linkOf(notification) {
    const data = notification.data || {};
    const type = notification.type || '';
    if (type.startsWith('sale.') || type.startsWith('transfer.') || type.startsWith('payouts.')) return ['/selling', 'Open your sales'];
    if (data.order_id) return [`/orders/${data.order_id}`, 'Open the order'];
    if (data.gear_id) return [`/gear/${data.gear_id}`, 'Open the gear item'];
    if (data.export_id) return ['/settings', 'Open your data exports'];
    return null;
}

function Item({ notification, onRead }) {
    const [error, setError] = useState(null);
    const link = linkOf(notification);
    const read = async () => {
        setError(null);
        try {
            await api(`/notifications/${notification.id}/read`, { method: 'POST' });
            onRead(notification.id);
        } catch (e) {
            setError(e);
        }
    };
    return html`<li class=${notification.read_at ? '' : 'unread'} data-testid="notification">
        <div class="row">
            <h2>${notification.read_at ? '' : html`<span class="visually-hidden">Unread: </span>`}${notification.title}</h2>
            <span class="meta">${when(notification.created_at)}</span>
        </div>
        ${notification.body && html`<p>${notification.body}</p>`}
        <${ErrorBox} error=${error} />
        <div class="actions">
            ${link && html`<a href=${link[0]}>${link[1]}</a>`}
            ${!notification.read_at && html`<button type="button" class="secondary" onClick=${read}>
                Mark read<span class="visually-hidden">: ${notification.title}</span></button>`}
        </div>
    </li>`;
}

export default function Notifications() {
    const [offset, setOffset] = useState(0);
    const [error, setError] = useState(null);
    const list = useAsync(async ({ fresh }) => {
        const data = await api('/notifications', { query: { limit: LIMIT, offset }, fresh });
        setUnread(data.unread_count);
        return data;
    }, [offset]);
    useChannel('notifications', (message) => {
        if (message.type === 'subscribed') return list.reload();
        if (message.event !== 'notification.created' || offset !== 0) return;
        list.setData((d) => d && { ...d, total: d.total + 1, notifications: [message.data, ...d.notifications].slice(0, LIMIT) });
    });
    const markedRead = (id) => {
        const now = new Date().toISOString();
        list.setData((d) => ({ ...d, notifications: d.notifications.map((n) => (n.id === id ? { ...n, read_at: now } : n)) }));
        refreshUnread();
    };
    const readAll = async () => {
        setError(null);
        try {
            await api('/notifications/read-all', { method: 'POST' });
            const now = new Date().toISOString();
            list.setData((d) => ({ ...d, notifications: d.notifications.map((n) => ({ ...n, read_at: n.read_at || now })) }));
            setUnread(0);
        } catch (e) {
            setError(e);
        }
    };
    return html`<section>
        <div class="row">
            <h1>Notifications</h1>
            <button type="button" class="secondary" onClick=${readAll}>Mark all read</button>
        </div>
        <${ErrorBox} error=${error} />
        <${AsyncView} state=${list} isEmpty=${(d) => d.notifications.length === 0} empty="No notifications yet."
            render=${(d) => html`<ul class="list">${d.notifications.map((n) => html`<${Item} key=${n.id} notification=${n} onRead=${markedRead} />`)}</ul>
            <${Pager} total=${d.total} limit=${LIMIT} offset=${offset} onOffset=${setOffset} label="Notification pages" />`} />
    </section>`;
}
