// The signed-in user's purchases, newest first, with their downloads and invoices.
import { api } from '../api.js';
import { html, useState } from '../lib.js';
import { AsyncView, Pager, money, useAsync, when } from '../ui.js';
import { OrderDownloads, OrderStatus } from './orders-common.js';

const LIMIT = 10;

export default function Library() {
    const [offset, setOffset] = useState(0);
    const orders = useAsync(({ fresh }) => api('/marketplace/orders', { query: { limit: LIMIT, offset }, fresh }), [offset]);
    return html`<section>
        <h1>Your purchases</h1>
        <${AsyncView} state=${orders} isEmpty=${(d) => d.orders.length === 0}
            empty=${html`You have bought nothing yet. <a href="/catalog">Browse the catalog</a>.`}
            render=${(d) => html`<ul class="list">${d.orders.map((order) => html`<li key=${order.id} data-testid="purchase">
                <div class="row">
                    <h2><a href=${`/orders/${order.id}`}>${order.items.map((i) => i.title).join(', ')}</a></h2>
                    <${OrderStatus} status=${order.status} />
                </div>
                <p class="meta">${when(order.created_at)} · ${money(order.total_cents, order.currency)}</p>
                <${OrderDownloads} order=${order} />
            </li>`)}</ul>
            <${Pager} total=${d.total} limit=${LIMIT} offset=${offset} onOffset=${setOffset} label="Purchase pages" />`} />
    </section>`;
}
