// The app shell: header and navigation, the offline banner, the sign-in-again dialog, and the screen of the
// current path. Screens load on demand from the one table below.
import { html, render, useEffect, useRef, useState } from './lib.js';
import { interceptLinks, match, navigate, useLocation } from './router.js';
import { login, logout, restore } from './api.js';
import { useSession } from './session.js';
import { useConnectionStatus } from './ws.js';
import { Bell } from './bell.js';
import { Dialog, ErrorBox, Field, Loading, Submit, Toasts, toast } from './ui.js';

// One entry per screen: its path pattern, its title, its module (default export: the screen's component,
// called with { params, query }), and who may open it: auth 'user' (signed in) or 'admin'.
// Paths must start with a section listed in veza/webclient.py CLIENT_SECTIONS.
export const SCREENS = [
    { path: '/', title: 'Home', load: () => import('./screens/catalog.js') },
    { path: '/login', title: 'Sign in', load: () => import('./screens/login.js') },
    { path: '/signup', title: 'Create an account', load: () => import('./screens/signup.js') },
    { path: '/account', title: 'Your account', load: () => import('./screens/account.js'), auth: 'user' },
    { path: '/catalog', title: 'Catalog', load: () => import('./screens/catalog.js') },
    { path: '/catalog/:id', title: 'Product', load: () => import('./screens/product.js') },
    { path: '/library', title: 'Your purchases', load: () => import('./screens/library.js'), auth: 'user' },
    { path: '/orders/:id', title: 'Order', load: () => import('./screens/order.js'), auth: 'user' },
    { path: '/live', title: 'Live', load: () => import('./screens/live.js') },
    { path: '/live/:id', title: 'Stream', load: () => import('./screens/stream.js') },
    { path: '/go-live', title: 'Go live', load: () => import('./screens/golive.js'), auth: 'user' },
    { path: '/notifications', title: 'Notifications', load: () => import('./screens/notifications.js'), auth: 'user' },
    { path: '/cloud', title: 'Cloud', load: () => import('./screens/cloud.js'), auth: 'user' },
    { path: '/cloud/:id', title: 'Cloud file', load: () => import('./screens/cloud-file.js'), auth: 'user' },
    { path: '/s/:token', title: 'Shared file', load: () => import('./screens/shared.js') },
    { path: '/gear', title: 'Gear', load: () => import('./screens/gear.js'), auth: 'user' },
    { path: '/gear/:id', title: 'Gear item', load: () => import('./screens/gear-item.js'), auth: 'user' },
    { path: '/selling', title: 'Selling', load: () => import('./screens/selling.js'), auth: 'user' },
    // where the payout provider sends the seller back after onboarding (veza/payments/sellers.py ONBOARDING_PAGE)
    { path: '/sell/payouts', title: 'Selling', load: () => import('./screens/selling.js'), auth: 'user' },
    { path: '/admin/transfers', title: 'Transfers (admin)', load: () => import('./screens/admin.js'), auth: 'admin' },
    { path: '/settings', title: 'Settings', load: () => import('./screens/settings.js'), auth: 'user' },
];

// The header's links; `auth` as above, `hideWhenSignedIn` for sign-in and sign-up.
const NAV = [
    { href: '/catalog', label: 'Catalog' },
    { href: '/live', label: 'Live' },
    { href: '/library', label: 'Library', auth: 'user' },
    { href: '/go-live', label: 'Go live', auth: 'user' },
    { href: '/cloud', label: 'Cloud', auth: 'user' },
    { href: '/gear', label: 'Gear', auth: 'user' },
    { href: '/selling', label: 'Selling', auth: 'user' },
    { href: '/admin/transfers', label: 'Admin', auth: 'admin' },
    { href: '/settings', label: 'Settings', auth: 'user' },
    { href: '/account', label: 'Account', auth: 'user' },
    { href: '/login', label: 'Sign in', hideWhenSignedIn: true },
    { href: '/signup', label: 'Sign up', hideWhenSignedIn: true },
];

function allowed(rule, user) {
    if (!rule) return true;
    if (!user) return false;
    return rule === 'user' || user.role === rule;
}

const loaded = new Map();

// The module of the screen `entry`, or undefined while it loads (never the module of the previous screen, which
// would render with the new screen's params).
function useScreen(entry) {
    const [state, setState] = useState(() => ({ entry, module: loaded.get(entry), error: null }));
    useEffect(() => {
        if (!entry) return;
        if (loaded.has(entry)) {
            setState({ entry, module: loaded.get(entry), error: null });
            return;
        }
        setState({ entry, module: undefined, error: null });
        entry.load().then(
            (m) => { loaded.set(entry, m); setState((s) => (s.entry === entry ? { entry, module: m, error: null } : s)); },
            (error) => setState((s) => (s.entry === entry ? { entry, module: undefined, error } : s)),
        );
    }, [entry]);
    if (state.entry !== entry) return { module: loaded.get(entry), error: null };
    return state;
}

function Screen({ where, user }) {
    let entry = null;
    let params = null;
    for (const candidate of SCREENS) {
        params = match(candidate.path, where.path);
        if (params) { entry = candidate; break; }
    }
    const { module, error } = useScreen(entry);
    const needsSignIn = entry && entry.auth && !user;
    useEffect(() => {
        if (needsSignIn) navigate(`/login?next=${encodeURIComponent(where.path + location.search)}`, { replace: true });
    }, [needsSignIn, where.path]);
    useEffect(() => { document.title = entry ? `${entry.title} · Veza` : 'Not found · Veza'; }, [entry]);
    if (!entry) {
        return html`<section><h1>Page not found</h1><p>There is nothing at this address. <a href="/">Go to the home page</a>.</p></section>`;
    }
    if (needsSignIn) return html`<${Loading} />`;
    if (!allowed(entry.auth, user)) {
        return html`<section><h1>Not allowed</h1><p>Your account cannot open this page.</p></section>`;
    }
    if (error) return html`<${ErrorBox} error=${{ message: 'This page could not be loaded. Check your connection and reload.' }} />`;
    if (!module) return html`<${Loading} />`;
    const Component = module.default;
    return html`<${Component} params=${params} query=${where.query} />`;
}

function OfflineBanner() {
    const socket = useConnectionStatus();
    const [online, setOnline] = useState(navigator.onLine);
    useEffect(() => {
        const on = () => setOnline(true);
        const off = () => setOnline(false);
        addEventListener('online', on);
        addEventListener('offline', off);
        return () => { removeEventListener('online', on); removeEventListener('offline', off); };
    }, []);
    if (online && socket !== 'offline') return null;
    return html`<p class="offline-banner" role="status">You are offline: live updates resume when the connection returns.</p>`;
}

// Shown over the page when the session ended while the user was working: whatever they typed stays where it
// is, and the request that found the session gone is sent again once they are signed in.
function SignInAgain({ session }) {
    const [password, setPassword] = useState('');
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState(null);
    const submit = async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
            await login(session.user?.email || '', password);
            setPassword('');
        } catch (e) {
            setError(e);
        } finally {
            setBusy(false);
        }
    };
    const leave = async () => {
        await logout().catch(() => {});
        navigate('/login');
    };
    return html`<${Dialog} open=${session.expired} title="Your session ended" onClose=${leave}>
        <form onSubmit=${submit}>
            <p>Sign in again as ${session.user?.email} to carry on where you were.</p>
            <${ErrorBox} error=${error} />
            <${Field} label="Password" type="password" autocomplete="current-password" value=${password} onValue=${setPassword} required />
            <div class="actions">
                <button type="button" class="secondary" onClick=${leave}>Sign out</button>
                <${Submit} busy=${busy}>Sign in<//>
            </div>
        </form>
    <//>`;
}

function Header({ user }) {
    const signOut = async () => {
        try {
            await logout();
            toast('You are signed out.');
            navigate('/');
        } catch (error) {
            toast(error.message, 'error');
        }
    };
    return html`<header class="top">
        <a class="brand" href="/">Veza</a>
        <nav aria-label="Main">
            <ul>
                ${NAV.filter((item) => allowed(item.auth, user) && !(item.hideWhenSignedIn && user)).map(
                    (item) => html`<li><a href=${item.href}>${item.label}</a></li>`,
                )}
                ${user && html`<li><${Bell} /></li>`}
                ${user && html`<li><button type="button" class="link" onClick=${signOut}>Sign out</button></li>`}
            </ul>
        </nav>
    </header>`;
}

function App() {
    const session = useSession();
    const where = useLocation();
    const main = useRef(null);
    const first = useRef(true);
    useEffect(() => {
        if (first.current) { first.current = false; return; }
        main.current?.focus(); // a screen reader hears that the page changed
    }, [where.path]);
    return html`
        <a class="skip" href="#main">Skip to content</a>
        <${Header} user=${session.user} />
        <${OfflineBanner} />
        <main id="main" ref=${main} tabindex="-1">
            ${session.ready ? html`<${Screen} where=${where} user=${session.user} />` : html`<${Loading} />`}
        </main>
        <${SignInAgain} session=${session} />
        <${Toasts} />`;
}

const root = document.getElementById('app');
root.textContent = '';
interceptLinks(document.body);
render(html`<${App} />`, root);
restore();
