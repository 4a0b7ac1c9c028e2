import { api, logout } from '../api.js';
import { html } from '../lib.js';
import { navigate } from '../router.js';
import { AsyncView, toast, useAsync, when } from '../ui.js';

export default function Account() {
    const me = useAsync(({ fresh }) => api('/users/me', { fresh }));
    const signOut = async () => {
        try {
            await logout();
            toast('You are signed out.');
            navigate('/');
        } catch (error) {
            toast(error.message, 'error');
        }
    };
    return html`<section class="narrow">
        <h1>Your account</h1>
        <${AsyncView} state=${me} render=${(user) => html`
            <dl class="facts">
                <dt>Username</dt><dd data-testid="account-username">${user.username}</dd>
                <dt>Email</dt><dd>${user.email}</dd>
                <dt>Role</dt><dd>${user.role}</dd>
                <dt>Member since</dt><dd>${when(user.created_at)}</dd>
            </dl>`} />
        <p><button type="button" class="secondary" onClick=${signOut}>Sign out</button></p>
    </section>`;
}
