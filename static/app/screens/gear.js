// Gear: the user's studio gear with each item's warranty badge and repair costs; adding an item.
import { api } from '../api.js';
import { html, useState } from '../lib.js';
import { AsyncView, ErrorBox, Field, Pager, Submit, money, useAsync, useDebounced, useSubmit } from '../ui.js';
import { WarrantyBadge, toCents } from './gear-parts.js';

const PAGE = 20;
const FILTERS = [
    { value: '', label: 'Any warranty' },
    { value: 'active', label: 'Under warranty' },
    { value: 'expiring', label: 'Expiring within 30 days' },
    { value: 'expired', label: 'Expired' },
    { value: 'none', label: 'No warranty' },
];
const EMPTY_ITEM = { name: '', brand: '', model: '', category: '', serial_number: '', purchase_date: '', price: '', warranty: 'none', warranty_expires_at: '' };

function repairTotal(totals) {
    const entries = Object.entries(totals || {});
    return entries.length ? entries.map(([currency, cents]) => money(cents, currency)).join(' + ') : null;
}

function NewItem({ onCreated }) {
    const [item, setItem] = useState(EMPTY_ITEM);
    const set = (name) => (value) => setItem((i) => ({ ...i, [name]: value }));
    const { busy, error, submit } = useSubmit(async () => {
        const price = toCents(item.price);
        if (Number.isNaN(price)) throw { message: 'The price must be an amount such as 199.00.' };
        const body = {
            name: item.name, brand: item.brand, model: item.model, serial_number: item.serial_number,
            category: item.category.trim() || 'other',
            purchase_date: item.purchase_date || null,
            price_cents: price,
            lifetime_warranty: item.warranty === 'lifetime',
            warranty_expires_at: item.warranty === 'until' ? item.warranty_expires_at || null : null,
        };
        const created = await api('/inventory/gear', { method: 'POST', body });
        setItem(EMPTY_ITEM);
        onCreated(created);
    });
    return html`<details class="card add-form">
        <summary>Add an item</summary>
        <form onSubmit=${submit} novalidate>
            <${ErrorBox} error=${error} />
            <${Field} label="Name" value=${item.name} onValue=${set('name')} required error=${error?.field?.('name')} />
            <div class="grid-2">
                <${Field} label="Brand" value=${item.brand} onValue=${set('brand')} error=${error?.field?.('brand')} />
                <${Field} label="Model" value=${item.model} onValue=${set('model')} error=${error?.field?.('model')} />
                <${Field} label="Category" value=${item.category} onValue=${set('category')} hint="For example: synth, microphone" error=${error?.field?.('category')} />
                <${Field} label="Serial number" value=${item.serial_number} onValue=${set('serial_number')} error=${error?.field?.('serial_number')} />
                <${Field} label="Purchase date" type="date" value=${item.purchase_date} onValue=${set('purchase_date')} error=${error?.field?.('purchase_date')} />
                <${Field} label="Price (EUR)" inputmode="decimal" value=${item.price} onValue=${set('price')} error=${error?.field?.('price_cents')} />
            </div>
            <${Field} label="Warranty" as="select" value=${item.warranty} onValue=${set('warranty')}>
                <option value="none">No warranty</option>
                <option value="until">Until a date</option>
                <option value="lifetime">Lifetime warranty</option>
            <//>
            ${item.warranty === 'until' && html`<${Field} label="Warranty ends on" type="date" value=${item.warranty_expires_at}
                onValue=${set('warranty_expires_at')} required error=${error?.field?.('warranty_expires_at')} />`}
            <${Submit} busy=${busy}>Add the item<//>
        </form>
    </details>`;
}

export default function Gear() {
    const [search, setSearch] = useState('');
    const [warranty, setWarranty] = useState('');
    const [offset, setOffset] = useState(0);
    const term = useDebounced(search.trim(), 300);
    const items = useAsync(() => api('/inventory/gear', { query: { search: term, warranty, limit: PAGE, offset } }), [term, warranty, offset]);
    return html`<section>
        <h1>Gear</h1>
        <${NewItem} onCreated=${() => { setOffset(0); items.reload(); }} />
        <div class="grid-2 filters">
            <${Field} label="Search" type="search" value=${search} onValue=${(v) => { setSearch(v); setOffset(0); }} />
            <${Field} label="Filter by warranty" as="select" value=${warranty} onValue=${(v) => { setWarranty(v); setOffset(0); }}>
                ${FILTERS.map((f) => html`<option value=${f.value}>${f.label}</option>`)}
            <//>
        </div>
        <${AsyncView} state=${items} isEmpty=${(d) => d.total === 0}
            empty=${term || warranty ? 'No item matches.' : 'No gear yet: add your first item above.'}
            render=${(d) => html`
                <ul class="cards" aria-label="Gear items">
                    ${d.items.map((item) => html`<li key=${item.id} class="card" data-testid="gear-item">
                        <h2 class="card-title"><a href=${`/gear/${item.id}`}>${item.name}</a></h2>
                        <p>${[item.brand, item.model].filter(Boolean).join(' ') || item.category}</p>
                        <p><${WarrantyBadge} warranty=${item.warranty} /></p>
                        ${repairTotal(item.repair_total_cents) && html`<p>Repairs: ${repairTotal(item.repair_total_cents)}</p>`}
                    </li>`)}
                </ul>
                <${Pager} total=${d.total} limit=${PAGE} offset=${offset} onOffset=${setOffset} label="Pages of gear" />`} />
    </section>`;
}
