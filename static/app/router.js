// Client-side routing over the history API. The server answers index.html at each of these paths
// (veza/webclient.py CLIENT_SECTIONS), so a reload or a shared link opens the same screen.
import { useEffect, useState } from './lib.js';

const listeners = new Set();

function location_() {
    return { path: location.pathname, query: new URLSearchParams(location.search) };
}

export function navigate(to, { replace = false } = {}) {
    if (to === location.pathname + location.search) return;
    history[replace ? 'replaceState' : 'pushState'](null, '', to);
    notify();
}

function notify() {
    const where = location_();
    for (const listener of listeners) listener(where);
}

addEventListener('popstate', notify);

export function useLocation() {
    const [where, setWhere] = useState(location_);
    useEffect(() => {
        listeners.add(setWhere);
        return () => listeners.delete(setWhere);
    }, []);
    return where;
}

// Links inside the page navigate without a reload (a plain <a href="/catalog"> is enough).
export function interceptLinks(root) {
    root.addEventListener('click', (event) => {
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        const link = event.target.closest('a[href]');
        if (!link || link.target || link.hasAttribute('download') || link.origin !== location.origin) return;
        if (link.pathname.startsWith('/api/') || link.pathname.startsWith('/static/')) return;
        if (link.hash && link.pathname === location.pathname) return; // an anchor on this page
        event.preventDefault();
        navigate(link.pathname + link.search);
    });
}

// '/catalog/:id' against '/catalog/42' -> { id: '42' }, or null.
export function match(pattern, path) {
    const want = pattern.split('/').filter(Boolean);
    const have = path.split('/').filter(Boolean);
    if (want.length !== have.length) return null;
    const params = {};
    for (let i = 0; i < want.length; i += 1) {
        if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(have[i]);
        else if (want[i] !== have[i]) return null;
    }
    return params;
}
