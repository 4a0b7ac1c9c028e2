// One WebSocket for the whole page: it authenticates with the session's token, (re)subscribes to every channel
// some component listens to, reconnects with backoff, and says when the page is offline.
import { renewOrSignIn } from './api.js';
import { useEffect, useRef, useState } from './lib.js';
import * as session from './session.js';

const CLOSE_UNAUTHORIZED = 4401;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PUBLIC_CHANNELS = /^live(:|$)/;

const handlers = new Map();      // channel -> Set of functions(message)
const statusListeners = new Set();
let socket = null;
let status = 'connecting';       // 'connecting' | 'online' | 'offline'
let failures = 0;
let retryTimer = 0;
let authenticatedAs = null;      // the token the open socket authenticated with
let openedFor = null;            // the user the socket was opened for (null: anonymous)

function setStatus(next) {
    if (next === status) return;
    status = next;
    for (const listener of statusListeners) listener(status);
}

function sendJson(message) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function mayFollow(channel) {
    return PUBLIC_CHANNELS.test(channel) || authenticatedAs !== null;
}

function subscribeAll() {
    for (const channel of handlers.keys()) {
        if (mayFollow(channel)) sendJson({ type: 'subscribe', channel });
    }
}

function connect() {
    clearTimeout(retryTimer);
    if (handlers.size === 0) return; // nothing to follow: no socket
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/api/v1/ws`);
    const token = session.current().token;
    openedFor = token ? session.current().user?.id ?? null : null;
    socket = ws;
    authenticatedAs = null;
    ws.onopen = () => {
        failures = 0;
        setStatus('online');
        if (token) sendJson({ type: 'auth', token });
        else subscribeAll();
    };
    ws.onmessage = (event) => {
        let message;
        try {
            message = JSON.parse(event.data);
        } catch {
            return;
        }
        if (message.type === 'authenticated') {
            authenticatedAs = token;
            subscribeAll();
        } else if (message.type === 'event' || message.type === 'subscribed') {
            // 'subscribed' (again, after a reconnect) tells a listener to fetch what it may have missed.
            for (const handler of handlers.get(message.channel) || []) handler(message);
        }
    };
    ws.onclose = (event) => {
        if (socket !== ws) return; // replaced on purpose
        socket = null;
        authenticatedAs = null;
        if (handlers.size === 0) { // nothing is followed any more: no socket until something is
            setStatus('connecting');
            return;
        }
        if (event.code === CLOSE_UNAUTHORIZED) {
            // a session ended while signed in asks to sign in again; one ended by signing out (or deleting the
            // account) just carries on anonymously
            if (session.current().user) renewOrSignIn().then(connect, () => schedule());
            else connect();
            return;
        }
        schedule();
    };
}

function schedule() {
    failures += 1;
    setStatus('offline');
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (failures - 1));
    retryTimer = setTimeout(connect, delay * (0.75 + Math.random() * 0.5));
}

function reconnect() {
    const old = socket;
    socket = null;
    old?.close(1000, 'session changed');
    connect();
}

// A sign-in or sign-out changes what the socket may follow: open one that speaks for the new user. A renewed
// token of the same user keeps the open socket.
session.subscribe((state) => {
    const user = state.token ? state.user?.id ?? null : null;
    if (user !== openedFor && !state.expired && handlers.size > 0) reconnect();
});
addEventListener('online', () => { if (!socket) connect(); });

// Follow a channel; returns the function that stops following it. The handler gets each event
// ({ type: 'event', event, data }) and a { type: 'subscribed' } each time the subscription (re)starts.
export function follow(channel, handler) {
    let set = handlers.get(channel);
    if (!set) {
        set = new Set();
        handlers.set(channel, set);
        if (!socket) connect();
        else if (mayFollow(channel)) sendJson({ type: 'subscribe', channel });
    }
    set.add(handler);
    return () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(channel) === set) {
            handlers.delete(channel);
            sendJson({ type: 'unsubscribe', channel });
        }
    };
}

// useChannel('live', (message) => ...): follows the channel while the component is mounted.
export function useChannel(channel, handler) {
    const latest = useRef(handler);
    latest.current = handler;
    useEffect(() => (channel ? follow(channel, (message) => latest.current(message)) : undefined), [channel]);
}

export function useConnectionStatus() {
    const [value, setValue] = useState(status);
    useEffect(() => {
        setValue(status);
        statusListeners.add(setValue);
        return () => statusListeners.delete(setValue);
    }, []);
    return value;
}
