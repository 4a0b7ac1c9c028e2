import { html } from '../lib.js';
import { useSession } from '../session.js';

export default function Home() {
    const { user } = useSession();
    return html`<section>
        <h1>${user ? `Welcome back, ${user.username}` : 'Welcome to Veza'}</h1>
        <p>Buy tracks and sample packs from their creators, watch them live, keep your files and your studio gear in one place.</p>
        ${!user && html`<p><a class="button" href="/signup">Create an account</a> <a class="button secondary" href="/login">Sign in</a></p>`}
    </section>`;
}
