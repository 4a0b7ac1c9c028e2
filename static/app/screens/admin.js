// Admin: every seller transfer with the API's filters (status, seller, creation dates), why each failed, and
// a retry of the failed ones.
import { api } from '../api.js';
import { html, useState } from '../lib.js';
import { AsyncView, Field, Pager, money, toast, useAsync, useDebounced, useSubmit, when } from '../ui.js';
import { TRANSFER_STATES, TransferBadge, transferWords } from './status.js';

const PAGE = 50;
const RETRYABLE = new Set(['failed', 'permanently_failed']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function RetryButton({ transfer, onDone }) {
    // A row's button has no room for an error box: the outcome is told in a toast either way.
    const { busy, submit: retry } = useSubmit(async () => {
        try {
            const done = await api(`/admin/transfers/${transfer.id}/retry`, {
                method: 'POST', headers: { 'Idempotency-Key': crypto.randomUUID() },
            });
            toast(`Transfer retried: ${transferWords(done.status).toLowerCase()}.`);
        } catch (e) {
            toast(`The retry failed: ${e.message}`, 'error');
        }
        onDone();
    });
    return html`<button type="button" onClick=${retry} disabled=${busy} aria-label=${`Retry the transfer of ${money(transfer.amount_cents, transfer.currency)} created ${when(transfer.created_at)}`}>
        ${busy ? 'Retrying…' : 'Retry'}
    </button>`;
}

export default function Admin() {
    const [status, setStatus] = useState('');
    const [seller, setSeller] = useState('');
    const [from, setFrom] = useState('');
    const [to, setTo] = useState('');
    const [offset, setOffset] = useState(0);
    const sellerId = useDebounced(seller.trim(), 300);
    const sellerInvalid = sellerId !== '' && !UUID.test(sellerId);
    const transfers = useAsync(
        () => (sellerInvalid ? Promise.resolve(null) : api('/admin/transfers', {
            query: { status, seller_id: sellerId, from, to, limit: PAGE, offset },
        })),
        [status, sellerId, from, to, offset, sellerInvalid],
    );
    const filter = (set) => (value) => { set(value); setOffset(0); };
    return html`<section>
        <h1>Transfers</h1>
        <form class="grid-4 filters" onSubmit=${(e) => e.preventDefault()} aria-label="Filters">
            <${Field} label="Status" as="select" value=${status} onValue=${filter(setStatus)}>
                <option value="">Any status</option>
                ${TRANSFER_STATES.map((s) => html`<option value=${s}>${transferWords(s)}</option>`)}
            <//>
            <${Field} label="Seller ID" value=${seller} onValue=${filter(setSeller)} spellcheck="false"
                error=${sellerInvalid ? 'A seller ID looks like 0b7c…-…: copy it from a transfer.' : null} />
            <${Field} label="Created from" type="date" value=${from} onValue=${filter(setFrom)} />
            <${Field} label="Created to" type="date" value=${to} onValue=${filter(setTo)} />
        </form>
        ${(status || seller || from || to) && html`<p><button type="button" class="link" onClick=${() => {
            setStatus(''); setSeller(''); setFrom(''); setTo(''); setOffset(0);
        }}>Clear the filters</button></p>`}
        ${!sellerInvalid && html`<${AsyncView} state=${transfers} isEmpty=${(d) => d.total === 0} empty="No transfer matches these filters."
            render=${(d) => html`<p>${d.total} ${d.total === 1 ? 'transfer' : 'transfers'}</p>
                <ul class="item-rows" aria-label="Transfers">
                    ${d.transfers.map((t) => html`<li key=${t.id} class="item-row admin-transfer" data-testid="admin-transfer">
                        <span><strong>${money(t.amount_cents, t.currency)}</strong> <${TransferBadge} status=${t.status} /> <small>fee ${money(t.platform_fee_cents, t.currency)}</small></span>
                        <span>Created ${when(t.created_at)} · ${t.retry_count} ${t.retry_count === 1 ? 'retry' : 'retries'}${t.next_retry_at ? ` · next try ${when(t.next_retry_at)}` : ''}</span>
                        <span class="ids">Seller <button type="button" class="link" onClick=${() => filter(setSeller)(t.seller_id)} aria-label=${`Only the transfers of seller ${t.seller_id}`}>${t.seller_id}</button> · order <code>${t.order_id}</code></span>
                        ${t.last_error && html`<span class="reason" data-testid="failure-reason">Why it failed: ${t.last_error}</span>`}
                        ${RETRYABLE.has(t.status) && html`<span class="row-actions"><${RetryButton} transfer=${t} onDone=${transfers.reload} /></span>`}
                    </li>`)}
                </ul>
                <${Pager} total=${d.total} limit=${PAGE} offset=${offset} onOffset=${setOffset} label="Pages of transfers" />`} />`}
    </section>`;
}
