// Who is signed in. The access token lives in memory only; the refresh token is an HttpOnly cookie the
// browser sends to /api/v1/auth, so a reload renews the session without the page ever seeing that token.
import { useEffect, useState } from './lib.js';

// Set while a refresh cookie should exist, so that an anonymous first visit does not ask for a refresh it
// cannot get. It holds no secret.
const SIGNED_IN_HINT = 'veza.signedIn';
const listeners = new Set();

let state = {
    ready: false,     // the first attempt to renew from the cookie has finished
    user: null,       // { id, username, email } and, once fetched, role
    token: null,
    expiresAt: 0,     // ms since epoch
    expired: false,   // the session ended while the user was working: the sign-in dialog is open
};

export function current() {
    return state;
}

export function update(patch) {
    state = { ...state, ...patch };
    for (const listener of listeners) listener(state);
}

export function subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
}

export function useSession() {
    const [value, setValue] = useState(state);
    useEffect(() => {
        setValue(state);
        return subscribe(setValue);
    }, []);
    return value;
}

export function signedIn({ user, access_token: token, expires_in: expiresIn }) {
    localStorage.setItem(SIGNED_IN_HINT, '1');
    update({ user: { ...(state.user?.id === user.id ? state.user : {}), ...user }, token,
        expiresAt: Date.now() + expiresIn * 1000, expired: false, ready: true });
}

export function signedOut() {
    localStorage.removeItem(SIGNED_IN_HINT);
    update({ user: null, token: null, expiresAt: 0, expired: false, ready: true });
}

export function mayRenew() {
    return localStorage.getItem(SIGNED_IN_HINT) === '1';
}
