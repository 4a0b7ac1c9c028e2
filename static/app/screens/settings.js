// Settings: profile, password, data export, and deleting the account.
import { api, loadProfile, logout } from '../api.js';
import { html, useEffect, useState } from '../lib.js';
import { navigate } from '../router.js';
import { useChannel } from '../ws.js';
import { AsyncView, Badge, Confirm, ErrorBox, Field, Submit, bytes, toast, useAsync, useSubmit, when } from '../ui.js';

const EXPORT_POLL_MS = 5000; // in case the socket is down; the export's notification reloads at once

function Profile({ me }) {
    const [username, setUsername] = useState(me.username);
    const [email, setEmail] = useState(me.email);
    const [password, setPassword] = useState('');
    const emailChanged = email.trim() !== me.email;
    const form = useSubmit(async () => {
        const body = {};
        if (username.trim() !== me.username) body.username = username.trim();
        if (emailChanged) Object.assign(body, { email: email.trim(), current_password: password });
        if (Object.keys(body).length === 0) {
            toast('Nothing to change.');
            return;
        }
        await api('/users/me', { method: 'PATCH', body });
        await loadProfile();
        setPassword('');
        toast('Your profile is saved.');
    });
    return html`<section aria-labelledby="profile-title">
        <h2 id="profile-title">Profile</h2>
        <form onSubmit=${form.submit} novalidate>
            <${ErrorBox} error=${form.error} />
            <${Field} label="Username" autocomplete="username" value=${username} onValue=${setUsername} error=${form.error?.field?.('username')} />
            <${Field} label="Email" type="email" autocomplete="email" value=${email} onValue=${setEmail} error=${form.error?.field?.('email')} />
            ${emailChanged && html`<${Field} label="Current password (to change the email)" type="password" autocomplete="current-password"
                value=${password} onValue=${setPassword} error=${form.error?.field?.('current_password')} />`}
            <${Submit} busy=${form.busy}>Save the profile<//>
        </form>
    </section>`;
}

function Password() {
    const [current, setCurrent] = useState('');
    const [next, setNext] = useState('');
    const [again, setAgain] = useState('');
    const form = useSubmit(async () => {
        if (next !== again) throw { message: 'The two new passwords differ.', field: () => null };
        await api('/users/me', { method: 'PATCH', body: { password: next, current_password: current } });
        setCurrent('');
        setNext('');
        setAgain('');
        toast('Your password is changed; your other sessions are signed out.');
    });
    return html`<section aria-labelledby="password-title">
        <h2 id="password-title">Password</h2>
        <form onSubmit=${form.submit} novalidate>
            <${ErrorBox} error=${form.error} />
            <${Field} label="Current password" type="password" autocomplete="current-password" value=${current} onValue=${setCurrent} error=${form.error?.field?.('current_password')} />
            <${Field} label="New password" type="password" autocomplete="new-password" value=${next} onValue=${setNext} hint="At least 8 characters" error=${form.error?.field?.('password')} />
            <${Field} label="New password again" type="password" autocomplete="new-password" value=${again} onValue=${setAgain} />
            <${Submit} busy=${form.busy}>Change the password<//>
        </form>
    </section>`;
}

const EXPORT_STATES = {
    pending: ['neutral', 'Waiting'],
    running: ['warn', 'Being built'],
    ready: ['ok', 'Ready'],
    failed: ['danger', 'Failed'],
    expired: ['neutral', 'Expired'],
};

function Exports() {
    const exports = useAsync(() => api('/users/me/exports', { query: { limit: 10 } }));
    const inProgress = exports.data?.exports.some((e) => e.status === 'pending' || e.status === 'running');
    useChannel('notifications', (message) => {
        if (/^export\./.test(message.data?.type || '')) exports.reload(); // ready or failed: at once
    });
    useEffect(() => {
        if (!inProgress) return undefined;
        const timer = setInterval(exports.reload, EXPORT_POLL_MS);
        return () => clearInterval(timer);
    }, [inProgress, exports.reload]);
    const form = useSubmit(async () => {
        await api('/users/me/export', { method: 'POST' });
        toast('Your archive is being built; it appears below when ready.');
        exports.reload();
    });
    return html`<section aria-labelledby="export-title">
        <h2 id="export-title">Your data</h2>
        <p>Download an archive of everything Veza keeps about you (ZIP of JSON files).</p>
        <${ErrorBox} error=${form.error} />
        <p><button type="button" onClick=${form.submit} disabled=${form.busy || inProgress}>${inProgress ? 'An archive is being built…' : 'Request an archive'}</button></p>
        <${AsyncView} state=${exports} isEmpty=${(d) => d.total === 0} empty="No archive requested yet."
            render=${(d) => html`<ul class="item-rows" aria-label="Archives">
                ${d.exports.map((e) => html`<li key=${e.id} class="item-row" data-testid="export">
                    <span><${Badge} kind=${EXPORT_STATES[e.status][0]}>${EXPORT_STATES[e.status][1]}<//> requested ${when(e.created_at)}</span>
                    <span>${e.size_bytes !== null && bytes(e.size_bytes)}${e.expires_at && e.status === 'ready' ? ` · available until ${when(e.expires_at)}` : ''}</span>
                    ${e.download_url && html`<span class="row-actions"><a class="button secondary" href=${e.download_url} download>Download the archive</a></span>`}
                </li>`)}
            </ul>`} />
    </section>`;
}

function DeleteAccount() {
    const [password, setPassword] = useState('');
    const [asking, setAsking] = useState(false);
    const [error, setError] = useState(null);
    const ask = (event) => {
        event.preventDefault();
        setError(null);
        if (!password) {
            setError({ message: 'Type your password to delete the account.', field: () => null });
            return;
        }
        setAsking(true);
    };
    const remove = async () => {
        try {
            await api('/users/me', { method: 'DELETE', body: { password } });
        } catch (e) {
            setAsking(false);
            setError(e);
            return;
        }
        setAsking(false);
        // leave this signed-in-only page first, so that signing out here does not send it to the sign-in page
        navigate('/', { replace: true });
        await logout().catch(() => {}); // the server ended the sessions already: this forgets it here
        toast('Your account is deleted.');
    };
    return html`<section aria-labelledby="delete-title" class="danger-zone">
        <h2 id="delete-title">Delete the account</h2>
        <p>Your files, gear, products and data go for good. Sellers with payouts still on their way must wait for them.</p>
        <form onSubmit=${ask} novalidate>
            <${ErrorBox} error=${error} />
            <${Field} label="Password (to delete the account)" type="password" autocomplete="current-password" value=${password} onValue=${setPassword}
                error=${error?.field?.('password')} />
            <div class="actions start"><button type="submit" class="danger">Delete my account</button></div>
        </form>
        <${Confirm} open=${asking} title="Delete your account for good?" confirmLabel="Delete for good" danger
            message="This cannot be undone." onConfirm=${remove} onCancel=${() => setAsking(false)} />
    </section>`;
}

export default function Settings() {
    const me = useAsync(() => api('/users/me'));
    return html`<section class="narrow-wide">
        <h1>Settings</h1>
        <${AsyncView} state=${me} render=${(user) => html`<${Profile} me=${user} />`} />
        <${Password} />
        <${Exports} />
        <${DeleteAccount} />
    </section>`;
}
