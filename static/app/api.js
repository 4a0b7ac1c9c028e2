// Every call to the API: the bearer token, the envelope unwrapped, errors in words, and one renewal of the
// session on a 401 (from the refresh cookie, or else by signing in again in a dialog that keeps the page as
// it is, so that nothing the user typed is lost).
import * as session from './session.js';

export const API = '/api/v1';
const RENEW_BEFORE_EXPIRY = 0.8; // of the token's lifetime

export class ApiError extends Error {
    constructor(status, body) {
        super(describe(status, body));
        this.status = status;
        this.code = body?.code || (status === 0 ? 'network_error' : 'http_error');
        this.details = Array.isArray(body?.details) ? body.details : [];
        this.requestId = body?.request_id || null;
    }

    // The message of one field (details name it by its path, e.g. "body.email" or "email").
    field(name) {
        const detail = this.details.find((d) => String(d.field ?? '').split('.').pop() === name);
        return detail?.message || null;
    }
}

const STATUS_WORDS = {
    0: 'The server cannot be reached. Check your connection and try again.',
    401: 'Please sign in.',
    403: 'You are not allowed to do that.',
    404: 'Not found.',
    409: 'That conflicts with something that already exists.',
    413: 'That is too large.',
    429: 'Too many attempts. Wait a moment and try again.',
    503: 'The service is busy or partly down. Try again in a moment.',
};

function describe(status, body) {
    if (body && typeof body.error === 'string' && body.error) return body.error;
    return STATUS_WORDS[status] || (status >= 500 ? 'Something went wrong on our side. Try again.' : `Request failed (${status}).`);
}

function url(path, query) {
    const target = new URL(API + path, location.origin);
    for (const [key, value] of Object.entries(query || {})) {
        if (value !== undefined && value !== null && value !== '') target.searchParams.set(key, value);
    }
    return target.pathname + target.search;
}

async function send(path, { method = 'GET', body, query, headers = {}, signal, token, fresh }) {
    const init = { method, headers: { Accept: 'application/json', ...headers }, signal, credentials: 'same-origin' };
    if (fresh) init.cache = 'no-cache'; // revalidate: never a stale copy from the HTTP cache
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body instanceof FormData || body instanceof Blob) {
        init.body = body;
    } else if (body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
    }
    try {
        return await fetch(url(path, query), init);
    } catch (error) {
        if (error.name === 'AbortError') throw error;
        throw new ApiError(0, null);
    }
}

async function unwrap(response) {
    const type = response.headers.get('Content-Type') || '';
    const body = type.includes('application/json') ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new ApiError(response.status, body);
    return body && 'success' in body ? body.data : body;
}

// api('/marketplace/products', { query: { search: 'x' } }) -> the envelope's data, or throws ApiError.
// options: method, body (object -> JSON; FormData/Blob as is), query, headers, signal, raw (the Response),
// fresh (revalidate instead of using the browser's HTTP cache).
export async function api(path, options = {}) {
    const hadToken = Boolean(session.current().token);
    let response = await send(path, { ...options, token: session.current().token });
    if (response.status === 401 && !path.startsWith('/auth/') && (hadToken || session.mayRenew())) {
        await renewOrSignIn();
        response = await send(path, { ...options, token: session.current().token });
    }
    if (options.raw) {
        if (!response.ok) await unwrap(response);
        return response;
    }
    return unwrap(response);
}

// --- the session's renewal ------------------------------------------------------------------------------

let renewing = null; // one refresh at a time: each refresh token works once
let renewTimer = 0;
let reauth = null;   // { promise, resolve, reject } while the sign-in dialog is open

export function renew() {
    if (!renewing) {
        renewing = (async () => {
            const response = await send('/auth/refresh', { method: 'POST' });
            const data = await unwrap(response);
            adopt(data);
            return data;
        })().finally(() => { renewing = null; });
    }
    return renewing;
}

// After a 401 or a socket closed with 4401: renew from the cookie, else ask the user to sign in again.
export async function renewOrSignIn() {
    try {
        await renew();
        return;
    } catch (error) {
        if (error.status !== 401) throw error;
    }
    if (!reauth) {
        let resolve, reject;
        const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
        reauth = { promise, resolve, reject };
        session.update({ expired: true, token: null });
    }
    return reauth.promise;
}

function adopt(data) {
    session.signedIn(data);
    clearTimeout(renewTimer);
    renewTimer = setTimeout(() => renew().catch(() => {}), data.expires_in * 1000 * RENEW_BEFORE_EXPIRY);
    if (reauth) {
        reauth.resolve();
        reauth = null;
    }
}

export async function login(email, password) {
    adopt(await unwrap(await send('/auth/login', { method: 'POST', body: { email, password } })));
    await loadProfile();
}

export async function register(username, email, password) {
    adopt(await unwrap(await send('/auth/register', { method: 'POST', body: { username, email, password } })));
    await loadProfile();
}

export async function logout() {
    const token = session.current().token;
    clearTimeout(renewTimer);
    try {
        await unwrap(await send('/auth/logout', { method: 'POST', token }));
    } finally {
        session.signedOut();
        if (reauth) {
            reauth.reject(new ApiError(401, { error: 'Signed out.' }));
            reauth = null;
        }
    }
}

// The role and dates of the signed-in user (the auth answers carry only id, username and email).
export async function loadProfile() {
    const me = await api('/users/me');
    session.update({ user: { ...session.current().user, ...me } });
    return me;
}

// On start: renew from the cookie if there may be one.
export async function restore() {
    if (!session.mayRenew()) {
        session.update({ ready: true });
        return;
    }
    try {
        await renew();
        await loadProfile();
    } catch (error) {
        if (error.status === 401) session.signedOut();
        else session.update({ ready: true });
    }
}

// Download a file the API serves to signed-in users (a link cannot carry the bearer token): fetched, then
// handed to the browser under the name the answer gives.
export async function download(path, fallbackName) {
    const response = await api(path, { raw: true });
    const blob = await response.blob();
    const disposition = response.headers.get('Content-Disposition') || '';
    const encoded = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
    const plain = /filename="?([^";]+)"?/i.exec(disposition);
    const name = encoded ? decodeURIComponent(encoded[1]) : plain ? plain[1] : fallbackName;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}
