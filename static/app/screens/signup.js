import { register } from '../api.js';
import { html, useState } from '../lib.js';
import { navigate } from '../router.js';
import { ErrorBox, Field, Submit, useSubmit } from '../ui.js';
import { nextPath } from './login.js';

const START = '/signup';

export default function Signup({ query }) {
    const [username, setUsername] = useState('');
    const [email, setEmail] = useState('');
    const [password, setPassword] = useState('');
    const { busy, error, submit } = useSubmit(async () => {
        await register(username.trim(), email.trim(), password);
        // Unless the user went elsewhere meanwhile, go where the sign-in was asked for.
        if (location.pathname === START) navigate(nextPath(query), { replace: true });
    }, { keepBusy: true });
    return html`<section class="narrow">
        <h1>Create an account</h1>
        <form onSubmit=${submit} novalidate>
            <${ErrorBox} error=${error} />
            <${Field} label="Username" autocomplete="username" value=${username} onValue=${setUsername} required error=${error?.field?.('username')} />
            <${Field} label="Email" type="email" autocomplete="email" value=${email} onValue=${setEmail} required error=${error?.field?.('email')} />
            <${Field} label="Password" type="password" autocomplete="new-password" value=${password} onValue=${setPassword} required
                hint="At least 8 characters." error=${error?.field?.('password')} />
            <${Submit} busy=${busy}>Create the account<//>
        </form>
        <p>Already have an account? <a href="/login">Sign in</a>.</p>
    </section>`;
}
