// One gear item: its details and warranty badge, its documents (upload, download, delete) and its repair log
// with the total cost.
import { api, download } from '../api.js';
import { html, useCallback, useState } from '../lib.js';
import { navigate } from '../router.js';
import { AsyncView, Confirm, ErrorBox, Field, Submit, bytes, money, toast, useAsync, useSubmit, when } from '../ui.js';
import { WarrantyBadge, toCents } from './gear-parts.js';
import { UploadList, useUploads } from './uploads.js';

const DOCUMENT_TYPES = ['invoice', 'manual', 'warranty', 'photo', 'receipt', 'other'];

function Documents({ item }) {
    const documents = useAsync(() => api(`/inventory/gear/${item.id}/documents`, { query: { limit: 100 } }), [item.id]);
    const [type, setType] = useState('invoice');
    const [deleting, setDeleting] = useState(null);
    const uploads = useUploads(useCallback(() => documents.reload(), [documents.reload]));
    const choose = (event) => {
        for (const file of event.currentTarget.files) uploads.start(file, `/inventory/gear/${item.id}/documents`, { fields: { type } });
        event.currentTarget.value = '';
    };
    const remove = async () => {
        await api(`/inventory/gear/${item.id}/documents/${deleting.id}`, { method: 'DELETE' });
        toast(`${deleting.filename} is deleted.`);
        setDeleting(null);
        documents.reload();
    };
    return html`<section aria-labelledby="documents-title">
        <h2 id="documents-title">Documents</h2>
        <div class="grid-2">
            <${Field} label="Document type" as="select" value=${type} onValue=${setType}>
                ${DOCUMENT_TYPES.map((t) => html`<option value=${t}>${t[0].toUpperCase() + t.slice(1)}</option>`)}
            <//>
            <div class="field">
                <label for="gear-document">Upload a document</label>
                <input id="gear-document" type="file" multiple onChange=${choose} />
            </div>
        </div>
        <${UploadList} uploads=${uploads} />
        <${AsyncView} state=${documents} isEmpty=${(d) => d.total === 0} empty="No documents yet."
            render=${(d) => html`<ul class="item-rows" aria-label="Documents">
                ${d.documents.map((doc) => html`<li key=${doc.id} class="item-row" data-testid="gear-document">
                    <span><strong>${doc.filename}</strong> (${doc.type})</span>
                    <span>${bytes(doc.size_bytes)} · ${when(doc.created_at)}</span>
                    <span class="row-actions">
                        <button type="button" class="secondary" aria-label=${`Download ${doc.filename}`}
                            onClick=${() => download(`/inventory/gear/${item.id}/documents/${doc.id}/download`, doc.filename).catch((e) => toast(e.message, 'error'))}>Download</button>
                        <button type="button" class="secondary" aria-label=${`Delete ${doc.filename}`} onClick=${() => setDeleting(doc)}>Delete</button>
                    </span>
                </li>`)}
            </ul>`} />
        <${Confirm} open=${deleting !== null} title=${`Delete ${deleting?.filename}?`} confirmLabel="Delete" danger
            onConfirm=${remove} onCancel=${() => setDeleting(null)} />
    </section>`;
}

const EMPTY_REPAIR = { repair_date: '', description: '', cost: '', provider: '' };

function Repairs({ item, onChanged }) {
    const repairs = useAsync(() => api(`/inventory/gear/${item.id}/repairs`, { query: { limit: 100 } }), [item.id]);
    const [repair, setRepair] = useState(EMPTY_REPAIR);
    const set = (name) => (value) => setRepair((r) => ({ ...r, [name]: value }));
    const changed = () => { repairs.reload(); onChanged(); };
    const { busy, error, submit } = useSubmit(async () => {
        const cost = toCents(repair.cost);
        if (Number.isNaN(cost)) throw { message: 'The cost must be an amount such as 45.00.' };
        await api(`/inventory/gear/${item.id}/repairs`, {
            method: 'POST',
            body: { repair_date: repair.repair_date || null, description: repair.description, cost_cents: cost ?? 0, currency: item.currency, provider: repair.provider },
        });
        setRepair(EMPTY_REPAIR);
        changed();
    });
    const remove = async (id) => {
        try {
            await api(`/inventory/gear/${item.id}/repairs/${id}`, { method: 'DELETE' });
            changed();
        } catch (e) {
            toast(e.message, 'error');
        }
    };
    const totals = Object.entries(item.repair_total_cents || {});
    return html`<section aria-labelledby="repairs-title">
        <h2 id="repairs-title">Repair log</h2>
        <p data-testid="repair-total">Total cost: ${totals.length ? totals.map(([c, cents]) => money(cents, c)).join(' + ') : money(0, item.currency)}</p>
        <${AsyncView} state=${repairs} isEmpty=${(d) => d.total === 0} empty="No repairs logged."
            render=${(d) => html`<ul class="item-rows" aria-label="Repairs">
                ${d.repairs.map((r) => html`<li key=${r.id} class="item-row" data-testid="repair">
                    <span><strong>${r.repair_date}</strong> ${r.description}</span>
                    <span>${money(r.cost_cents, r.currency)}${r.provider && ` · ${r.provider}`}</span>
                    <span class="row-actions"><button type="button" class="secondary" aria-label=${`Delete the repair of ${r.repair_date}`} onClick=${() => remove(r.id)}>Delete</button></span>
                </li>`)}
            </ul>`} />
        <form onSubmit=${submit} novalidate class="card">
            <h3>Log a repair</h3>
            <${ErrorBox} error=${error} />
            <div class="grid-2">
                <${Field} label="Repair date" type="date" value=${repair.repair_date} onValue=${set('repair_date')} required error=${error?.field?.('repair_date')} />
                <${Field} label=${`Cost (${item.currency})`} inputmode="decimal" value=${repair.cost} onValue=${set('cost')} error=${error?.field?.('cost_cents')} />
            </div>
            <${Field} label="What was repaired" value=${repair.description} onValue=${set('description')} required error=${error?.field?.('description')} />
            <${Field} label="Repaired by" value=${repair.provider} onValue=${set('provider')} error=${error?.field?.('provider')} />
            <${Submit} busy=${busy}>Log the repair<//>
        </form>
    </section>`;
}

export default function GearItem({ params }) {
    const item = useAsync(() => api(`/inventory/gear/${params.id}`), [params.id]);
    const [deleting, setDeleting] = useState(false);
    const remove = async () => {
        await api(`/inventory/gear/${params.id}`, { method: 'DELETE' });
        toast('The item is deleted.');
        navigate('/gear');
    };
    return html`<section>
        <p><a href="/gear">Back to your gear</a></p>
        <${AsyncView} state=${item} render=${(g) => html`
            <h1>${g.name}</h1>
            <p><${WarrantyBadge} warranty=${g.warranty} /></p>
            <dl class="facts">
                ${g.brand && html`<dt>Brand</dt><dd>${g.brand}</dd>`}
                ${g.model && html`<dt>Model</dt><dd>${g.model}</dd>`}
                <dt>Category</dt><dd>${g.category}</dd>
                ${g.serial_number && html`<dt>Serial number</dt><dd>${g.serial_number}</dd>`}
                ${g.purchase_date && html`<dt>Bought on</dt><dd>${g.purchase_date}</dd>`}
                ${g.price_cents !== null && html`<dt>Price</dt><dd>${money(g.price_cents, g.currency)}</dd>`}
                <dt>Warranty</dt><dd>${g.lifetime_warranty ? 'Lifetime' : g.warranty_expires_at ? `Until ${g.warranty_expires_at}` : 'None'}</dd>
            </dl>
            <${Documents} item=${g} />
            <${Repairs} item=${g} onChanged=${item.reload} />
            <p><button type="button" class="danger" onClick=${() => setDeleting(true)}>Delete the item</button></p>
            <${Confirm} open=${deleting} title=${`Delete ${g.name}?`} confirmLabel="Delete" danger
                message="Its documents and repair log go with it." onConfirm=${remove} onCancel=${() => setDeleting(false)} />`} />
    </section>`;
}
