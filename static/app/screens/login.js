import { login } from '../api.js';
import { html, useState } from '../lib.js';
import { navigate } from '../router.js';
import { ErrorBox, Field, Submit, useSubmit } from '../ui.js';

// Where to go after signing in: the page that asked for it (same site only), else the account.
export function nextPath(query) {
    const next = query.get('next') || '';
    return next.startsWith('/') && !next.startsWith('//') ? next : '/account';
}

const START = '/login';

export default function Login({ query }) {
    const [email, setEmail] = useState('');
    const [password, setPassword] = useState('');
    const { busy, error, submit } = useSubmit(async () => {
        await login(email.trim(), password);
        // Unless the user went elsewhere meanwhile, go where the sign-in was asked for.
        if (location.pathname === START) navigate(nextPath(query), { replace: true });
    }, { keepBusy: true });
    return html`<section class="narrow">
        <h1>Sign in</h1>
        <form onSubmit=${submit} novalidate>
            <${ErrorBox} error=${error} />
            <${Field} label="Email" type="email" autocomplete="email" value=${email} onValue=${setEmail} required error=${error?.field?.('email')} />
            <${Field} label="Password" type="password" autocomplete="current-password" value=${password} onValue=${setPassword} required error=${error?.field?.('password')} />
            <${Submit} busy=${busy}>Sign in<//>
        </form>
        <p>New here? <a href=${`/signup${query.get('next') ? `?next=${encodeURIComponent(query.get('next'))}` : ''}`}>Create an account</a>.</p>
    </section>`;
}
