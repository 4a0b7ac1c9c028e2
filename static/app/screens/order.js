// One order: its status, changing live (the `notifications` channel tells of payment and refund outcomes),
// its downloads and invoice, and a refund request with its state.
import { api } from '../api.js';
import { html, useState } from '../lib.js';
import { AsyncView, ErrorBox, Field, Submit, money, toast, useAsync, useSubmit, when } from '../ui.js';
import { useChannel } from '../ws.js';
import { OrderDownloads, OrderStatus } from './orders-common.js';

const REFUND_DAYS = 14;

function RefundForm({ order, onRequested }) {
    const [reason, setReason] = useState('');
    const [details, setDetails] = useState('');
    const { busy, error, submit } = useSubmit(async () => {
        await api(`/marketplace/orders/${order.id}/refund`, {
            method: 'POST', body: { reason, details }, headers: { 'Idempotency-Key': crypto.randomUUID() },
        });
        toast('Refund requested.');
        onRequested();
    });
    return html`<form onSubmit=${submit} aria-label="Request a refund">
        <h2>Request a refund</h2>
        <p class="meta">Within ${REFUND_DAYS} days of the purchase.</p>
        <${ErrorBox} error=${error} />
        <${Field} label="Reason" value=${reason} onValue=${setReason} required maxlength="500" error=${error?.field?.('reason')} />
        <${Field} label="Details (optional)" as="textarea" rows="3" value=${details} onValue=${setDetails} maxlength="2000" />
        <${Submit} busy=${busy}>Request the refund<//>
    </form>`;
}

const REFUND_STATE = {
    refund_pending: 'A refund was requested: the payment service is settling it.',
    refunded: 'This order was refunded: its licenses are revoked.',
};

export default function Order({ params }) {
    const order = useAsync(({ fresh }) => api(`/marketplace/orders/${params.id}`, { fresh }), [params.id]);
    useChannel('notifications', (message) => {
        // Subscribed (again): fetch what may have changed meanwhile; a notification about this order: fetch it.
        if (message.type === 'subscribed' || message.data?.data?.order_id === params.id) order.reload();
    });
    return html`<section>
        <p><a href="/library">Your purchases</a></p>
        <${AsyncView} state=${order} render=${(o) => html`
            <h1>Order of ${when(o.created_at)}</h1>
            <p class="status-line" aria-live="polite">Status: <${OrderStatus} status=${o.status} /></p>
            <ul class="list">${o.items.map((item) => html`<li key=${item.id}>
                <a href=${`/catalog/${item.product_id}`}>${item.title}</a> · ${item.quantity} × ${money(item.unit_price_cents, item.currency)}
            </li>`)}</ul>
            <p class="price">Total ${money(o.total_cents, o.currency)}</p>
            ${o.status === 'pending' && html`<p class="meta">The payment is being confirmed; this page updates by itself.</p>`}
            <${OrderDownloads} order=${o} />
            ${REFUND_STATE[o.status] && html`<p data-testid="refund-state">${REFUND_STATE[o.status]}</p>`}
            ${o.status === 'completed' && html`<${RefundForm} order=${o} onRequested=${order.reload} />`}`} />
    </section>`;
}
