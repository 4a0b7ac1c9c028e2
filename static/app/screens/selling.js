// Selling: payouts (balance, Connect onboarding), the seller's products (create from a cloud file, edit,
// archive) and their transfers with their status.
import { api } from '../api.js';
import { html, useState } from '../lib.js';
import {
    AsyncView, Badge, Confirm, Dialog, ErrorBox, Field, Pager, Submit, money, toast, useAsync, useSubmit, when,
} from '../ui.js';
import { useChannel } from '../ws.js';
import { toCents } from './gear-parts.js';
import { TransferBadge } from './status.js';

const PAGE = 20;
const KINDS = [['track', 'Track'], ['sample_pack', 'Sample pack'], ['preset', 'Preset'], ['beat', 'Beat'], ['other', 'Other']];
const CURRENCIES = ['EUR', 'USD', 'GBP'];

// A sale or a payout told over the WebSocket (the user's notifications) reloads what it changes.
function useSalesNews(reload) {
    useChannel('notifications', (message) => {
        if (message.event === 'notification.created' && /^(sale|transfer)\./.test(message.data?.type || '')) reload();
    });
}

function Payouts({ query }) {
    const balance = useAsync(() => api('/sell/balance'));
    useSalesNews(balance.reload);
    const { busy, error, submit: onboard } = useSubmit(async () => {
        const { onboarding_url: url } = await api('/sell/connect/onboard', { method: 'POST' });
        location.assign(url);
    }, { keepBusy: true });
    return html`<section aria-labelledby="payouts-title">
        <h2 id="payouts-title">Payouts</h2>
        ${query?.get('onboarding') === 'done' && html`<p role="status">Welcome back: your payout account is being checked.</p>`}
        <${ErrorBox} error=${error} />
        <${AsyncView} state=${balance} render=${(b) => html`
            <dl class="facts" data-testid="balance">
                <dt>Payout account</dt><dd>${b.connected ? html`<${Badge} kind="ok">Connected<//>` : html`<${Badge} kind="warn">Not set up<//>`}</dd>
                <dt>Available</dt><dd>${money(b.available)}</dd>
                <dt>On the way</dt><dd>${money(b.pending)}</dd>
            </dl>
            ${!b.connected && html`<p>Sales are paid out once your payout account is set up.</p>
                <p><button type="button" onClick=${onboard} disabled=${busy}>${busy ? 'Please wait…' : 'Set up payouts'}</button></p>`}`} />
    </section>`;
}

function ProductForm({ product, onSaved, onCancel }) {
    const files = useAsync(() => api('/cloud/files', { query: { limit: 100 } }));
    const [form, setForm] = useState(() => ({
        title: product?.title || '', description: product?.description || '', kind: product?.kind || 'track',
        price: product ? (product.price_cents / 100).toFixed(2) : '', currency: product?.currency || 'EUR',
        tags: product?.tags?.join(', ') || '', asset_file_id: product?.asset_file_id || '',
    }));
    const set = (name) => (value) => setForm((f) => ({ ...f, [name]: value }));
    const { busy, error, submit } = useSubmit(async () => {
        const price = toCents(form.price);
        if (!price) throw { message: 'The price must be an amount above zero, such as 29.99.' };
        if (!form.asset_file_id) throw { message: 'Choose the cloud file buyers get.' };
        const body = {
            title: form.title, description: form.description, kind: form.kind, price_cents: price, currency: form.currency,
            tags: form.tags.split(',').map((t) => t.trim()).filter(Boolean), asset_file_id: form.asset_file_id,
        };
        const saved = product
            ? await api(`/marketplace/products/${product.id}`, { method: 'PATCH', body })
            : await api('/marketplace/products', { method: 'POST', body });
        onSaved(saved);
    });
    return html`<form onSubmit=${submit} novalidate>
        <${ErrorBox} error=${error} />
        <${Field} label="Title" value=${form.title} onValue=${set('title')} required error=${error?.field?.('title')} />
        <div class="grid-2">
            <${Field} label="Kind" as="select" value=${form.kind} onValue=${set('kind')}>
                ${KINDS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
            <//>
            <${Field} label="Price" inputmode="decimal" value=${form.price} onValue=${set('price')} required error=${error?.field?.('price_cents')} />
            <${Field} label="Currency" as="select" value=${form.currency} onValue=${set('currency')}>
                ${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}
            <//>
            <${Field} label="Tags" value=${form.tags} onValue=${set('tags')} hint="Separated by commas" error=${error?.field?.('tags')} />
        </div>
        <${Field} label="Description" as="textarea" value=${form.description} onValue=${set('description')} error=${error?.field?.('description')} />
        ${files.error ? html`<${ErrorBox} error=${files.error} retry=${files.reload} />` : html`
            <${Field} label="File buyers get (from your cloud)" as="select" value=${form.asset_file_id} onValue=${set('asset_file_id')} required
                error=${error?.field?.('asset_file_id')} hint=${files.data?.total === 0 ? 'Upload the file to your cloud first.' : undefined}>
                <option value="">Choose a file…</option>
                ${(files.data?.files || []).map((f) => html`<option value=${f.id}>${f.name}</option>`)}
            <//>`}
        <div class="actions">
            ${onCancel && html`<button type="button" class="secondary" onClick=${onCancel}>Cancel</button>`}
            <${Submit} busy=${busy}>${product ? 'Save the changes' : 'List the product'}<//>
        </div>
    </form>`;
}

function Products() {
    const [offset, setOffset] = useState(0);
    const products = useAsync(() => api('/sell/products', { query: { limit: PAGE, offset } }), [offset]);
    const [editing, setEditing] = useState(null);
    const [archiving, setArchiving] = useState(null);
    const archive = async () => {
        await api(`/marketplace/products/${archiving.id}`, { method: 'DELETE' });
        toast(`${archiving.title} left the catalog.`);
        setArchiving(null);
        products.reload();
    };
    return html`<section aria-labelledby="products-title">
        <h2 id="products-title">Your products</h2>
        <details class="card add-form">
            <summary>List a new product</summary>
            <${ProductForm} key=${products.data?.total} onSaved=${(p) => { toast(`${p.title} is in the catalog.`); products.reload(); }} />
        </details>
        <${AsyncView} state=${products} isEmpty=${(d) => d.total === 0} empty="You have no products yet."
            render=${(d) => html`<ul class="item-rows" aria-label="Your products">
                ${d.products.map((p) => html`<li key=${p.id} class="item-row" data-testid="seller-product">
                    <span><strong>${p.title}</strong> ${p.status === 'active' ? html`<${Badge} kind="ok">On sale<//>` : html`<${Badge} kind="neutral">Archived<//>`}</span>
                    <span>${money(p.price_cents, p.currency)} · ${p.kind.replace('_', ' ')}</span>
                    <span class="row-actions">${p.status === 'active' && html`
                        <button type="button" class="secondary" aria-label=${`Edit ${p.title}`} onClick=${() => setEditing(p)}>Edit</button>
                        <button type="button" class="secondary" aria-label=${`Archive ${p.title}`} onClick=${() => setArchiving(p)}>Archive</button>`}</span>
                </li>`)}
            </ul>
            <${Pager} total=${d.total} limit=${PAGE} offset=${offset} onOffset=${setOffset} label="Pages of products" />`} />
        <${Dialog} open=${editing !== null} title=${`Edit ${editing?.title || ''}`} onClose=${() => setEditing(null)}>
            ${editing && html`<${ProductForm} key=${editing.id} product=${editing} onCancel=${() => setEditing(null)}
                onSaved=${() => { toast('Saved.'); setEditing(null); products.reload(); }} />`}
        <//>
        <${Confirm} open=${archiving !== null} title=${`Archive ${archiving?.title || ''}?`} confirmLabel="Archive"
            message="It leaves the catalog; buyers keep what they bought." onConfirm=${archive} onCancel=${() => setArchiving(null)} />
    </section>`;
}

function Transfers() {
    const [offset, setOffset] = useState(0);
    const transfers = useAsync(() => api('/sell/transfers', { query: { limit: PAGE, offset } }), [offset]);
    useSalesNews(transfers.reload);
    return html`<section aria-labelledby="transfers-title">
        <h2 id="transfers-title">Transfers</h2>
        <${AsyncView} state=${transfers} isEmpty=${(d) => d.total === 0} empty="No sales paid out yet."
            render=${(d) => html`<ul class="item-rows" aria-label="Transfers">
                ${d.transfers.map((t) => html`<li key=${t.id} class="item-row" data-testid="seller-transfer">
                    <span><strong>${money(t.amount_cents, t.currency)}</strong> <${TransferBadge} status=${t.status} /></span>
                    <span>${when(t.created_at)} · fee ${money(t.platform_fee_cents, t.currency)}${t.next_retry_at ? ` · next try ${when(t.next_retry_at)}` : ''}</span>
                </li>`)}
            </ul>
            <${Pager} total=${d.total} limit=${PAGE} offset=${offset} onOffset=${setOffset} label="Pages of transfers" />`} />
    </section>`;
}

export default function Selling({ query }) {
    return html`<section>
        <h1>Selling</h1>
        <${Payouts} query=${query} />
        <${Products} />
        <${Transfers} />
    </section>`;
}
