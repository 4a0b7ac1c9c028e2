// The unread notifications count: fetched once signed in, raised live by the `notifications` channel, and set
// by the notifications screen when it marks some read. The header's bell shows it.
import { api } from './api.js';
import { html, useEffect, useState } from './lib.js';
import { useSession } from './session.js';
import { useChannel } from './ws.js';

const listeners = new Set();
let unread = 0;

export function setUnread(count) {
    unread = Math.max(0, count);
    for (const listener of listeners) listener(unread);
}

export function refreshUnread() {
    return api('/notifications/unread-count').then((data) => setUnread(data.count), () => {});
}

export function useUnread() {
    const [value, setValue] = useState(unread);
    useEffect(() => {
        setValue(unread);
        listeners.add(setValue);
        return () => listeners.delete(setValue);
    }, []);
    return value;
}

export function Bell() {
    const { user } = useSession();
    const count = useUnread();
    useChannel(user?.id ? 'notifications' : null, (message) => {
        if (message.type === 'subscribed') refreshUnread(); // on sign-in and after every reconnect
        else if (message.event === 'notification.created') setUnread(unread + 1);
    });
    const label = count ? `Notifications, ${count} unread` : 'Notifications, none unread';
    return html`<a href="/notifications" class="bell" aria-label=${label} data-testid="bell">
        <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22" fill="currentColor"><path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z"/></svg>${count > 0 && html`<span class="count" aria-hidden="true" data-testid="unread-count">${count}</span>`}
    </a>`;
}
