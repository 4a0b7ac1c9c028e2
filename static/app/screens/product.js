// A product: its details, rating and reviews; buying it with the sandbox gateway (a confirm step stands in for
// the card form); leaving a review once bought.
import { api } from '../api.js';
import { html, useState } from '../lib.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';
import { AsyncView, Confirm, ErrorBox, Field, Pager, Submit, money, toast, useAsync, useSubmit, when } from '../ui.js';
import { Stars, kindName } from './catalog.js';

const REVIEWS_LIMIT = 10;

function Buy({ product }) {
    const { user } = useSession();
    const [checkout, setCheckout] = useState(null); // { order, payment } while the payment waits for the buyer
    const { busy, error, submit: start } = useSubmit(async () => {
        const created = await api('/marketplace/orders', {
            method: 'POST',
            body: { items: [{ product_id: product.id, quantity: 1 }] },
            headers: { 'Idempotency-Key': crypto.randomUUID() },
        });
        setCheckout(created);
    });
    if (!user) {
        return html`<p><a class="button" href=${`/login?next=${encodeURIComponent(`/catalog/${product.id}`)}`}>Sign in to buy</a></p>`;
    }
    const pay = async () => {
        await api(`/payments/sandbox/${encodeURIComponent(checkout.payment.payment_id)}/confirm`, {
            method: 'POST', body: { outcome: 'succeeded' },
        });
        const orderId = checkout.order.id;
        setCheckout(null);
        toast('Payment sent: the order completes in a moment.');
        navigate(`/orders/${orderId}`);
    };
    return html`<div>
        <${ErrorBox} error=${error} />
        <button type="button" onClick=${start} disabled=${busy}>${busy ? 'Please wait…' : `Buy for ${money(product.price_cents, product.currency)}`}</button>
        <${Confirm} open=${Boolean(checkout)} title="Confirm the payment"
            message=${checkout && `Pay ${money(checkout.order.total_cents, checkout.order.currency)} for “${product.title}” with the sandbox gateway (no real card is charged).`}
            confirmLabel="Pay" onConfirm=${pay} onCancel=${() => setCheckout(null)} />
    </div>`;
}

function ReviewForm({ productId, onPosted }) {
    const [rating, setRating] = useState('5');
    const [comment, setComment] = useState('');
    const { busy, error, submit } = useSubmit(async () => {
        await api(`/marketplace/products/${productId}/reviews`, {
            method: 'POST', body: { rating: Number(rating), comment },
        });
        setComment('');
        toast('Thank you for your review.');
        onPosted();
    });
    return html`<form onSubmit=${submit} aria-label="Leave a review">
        <h3>Leave a review</h3>
        <${ErrorBox} error=${error} />
        <${Field} label="Rating" as="select" value=${rating} onValue=${setRating} error=${error?.field?.('rating')}>
            ${[5, 4, 3, 2, 1].map((n) => html`<option value=${n}>${n} star${n === 1 ? '' : 's'}</option>`)}
        <//>
        <${Field} label="Comment" as="textarea" rows="3" value=${comment} onValue=${setComment} maxlength="2000" error=${error?.field?.('comment')} />
        <${Submit} busy=${busy}>Post the review<//>
    </form>`;
}

function Reviews({ productId, onPosted }) {
    const { user } = useSession();
    const [offset, setOffset] = useState(0);
    const reviews = useAsync(
        ({ fresh }) => api(`/marketplace/products/${productId}/reviews`, { query: { limit: REVIEWS_LIMIT, offset }, fresh }),
        [productId, offset],
    );
    const posted = () => { reviews.reload(); onPosted(); };
    return html`<section aria-labelledby="reviews-title">
        <h2 id="reviews-title">Reviews</h2>
        <${AsyncView} state=${reviews} isEmpty=${(d) => d.reviews.length === 0} empty="No reviews yet."
            render=${(d) => html`<ul class="list">${d.reviews.map((r) => html`<li key=${r.id} data-testid="review">
                <p><span class="stars" aria-hidden="true">${'★'.repeat(r.rating)}${'☆'.repeat(5 - r.rating)}</span>
                    <span class="visually-hidden">${r.rating} out of 5</span> by ${r.buyer.username}, ${when(r.created_at)}</p>
                ${r.comment && html`<p>${r.comment}</p>`}
            </li>`)}</ul>
            <${Pager} total=${d.total} limit=${REVIEWS_LIMIT} offset=${offset} onOffset=${setOffset} label="Review pages" />`} />
        ${user && html`<${ReviewForm} productId=${productId} onPosted=${posted} />`}
    </section>`;
}

export default function Product({ params }) {
    const product = useAsync(({ fresh }) => api(`/marketplace/products/${params.id}`, { fresh }), [params.id]);
    return html`<section>
        <p><a href="/catalog">Back to the catalog</a></p>
        <${AsyncView} state=${product} render=${(p) => html`
            <h1>${p.title}</h1>
            <p class="meta">${kindName(p.kind)} by ${p.seller.username} · ${p.sales_count} sold</p>
            <p><${Stars} rating=${p.rating_avg} count=${p.review_count} /></p>
            <p class="price">${money(p.price_cents, p.currency)}</p>
            ${p.description && html`<p>${p.description}</p>`}
            ${p.tags.length > 0 && html`<p class="meta">Tags: ${p.tags.join(', ')}</p>`}
            <${Buy} product=${p} />
            <${Reviews} productId=${p.id} onPosted=${product.reload} />`} />
    </section>`;
}
