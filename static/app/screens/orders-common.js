// What the library and the order page share: an order's status in words and colour, and its downloads.
import { download } from '../api.js';
import { html } from '../lib.js';
import { Badge, toast, useSubmit } from '../ui.js';

const STATUS = {
    pending: ['warn', 'Waiting for the payment'],
    completed: ['ok', 'Completed'],
    failed: ['danger', 'Payment failed'],
    refund_pending: ['warn', 'Refund requested'],
    refunded: ['neutral', 'Refunded'],
};

export function OrderStatus({ status }) {
    const [kind, words] = STATUS[status] || ['neutral', status];
    return html`<${Badge} kind=${kind}><span data-testid="order-status">${words}</span><//>`;
}

function DownloadButton({ path, name, label }) {
    // A row of buttons has no room for an error box: a failure is told in a toast.
    const { busy, submit: run } = useSubmit(() => download(path, name).catch((error) => toast(error.message, 'error')));
    return html`<button type="button" class="secondary" onClick=${run} disabled=${busy}>${busy ? 'Downloading…' : label}</button>`;
}

// Downloads exist once the order is paid: each product's file, and the invoice.
export function OrderDownloads({ order }) {
    if (order.status !== 'completed') return null;
    return html`<div class="actions">
        ${order.items.map((item) => html`<${DownloadButton} key=${item.id} path=${`/marketplace/products/${item.product_id}/download`}
            name=${item.title} label=${`Download “${item.title}”`} />`)}
        <${DownloadButton} path=${`/marketplace/orders/${order.id}/invoice`} name=${`invoice-${order.id}.pdf`} label="Invoice (PDF)" />
    </div>`;
}
