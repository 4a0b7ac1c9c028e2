// The catalog: search as you type (debounced), sort, paging. The search and page live in the address, so a
// reload or a shared link shows the same results.
import { api } from '../api.js';
import { html, useEffect, useRef, useState } from '../lib.js';
import { navigate } from '../router.js';
import { AsyncView, Field, Pager, money, useAsync, useDebounced } from '../ui.js';

const LIMIT = 12;
const SORTS = [
    ['newest', 'Newest'],
    ['popular', 'Most bought'],
    ['rating', 'Best rated'],
    ['price_asc', 'Price, low to high'],
    ['price_desc', 'Price, high to low'],
];
const KINDS = { track: 'Track', sample_pack: 'Sample pack', preset: 'Preset', beat: 'Beat', other: 'Other' };

export function Stars({ rating, count }) {
    if (!count) return html`<span class="meta">No reviews yet</span>`;
    const rounded = Math.round(rating * 10) / 10;
    return html`<span class="stars" aria-hidden="true">${'★'.repeat(Math.round(rating))}${'☆'.repeat(5 - Math.round(rating))}</span>
        <span class="meta">${rounded} out of 5 (${count} review${count === 1 ? '' : 's'})</span>`;
}

export function kindName(kind) {
    return KINDS[kind] || kind;
}

function ProductCard({ product }) {
    return html`<li class="card" data-testid="product-card">
        <h2><a href=${`/catalog/${product.id}`}>${product.title}</a></h2>
        <p class="meta">${kindName(product.kind)} by ${product.seller.username}</p>
        <p class="price">${money(product.price_cents, product.currency)}</p>
        <p><${Stars} rating=${product.rating_avg} count=${product.review_count} /></p>
    </li>`;
}

export default function Catalog({ query }) {
    const [search, setSearch] = useState(query.get('search') || '');
    const [sort, setSort] = useState(query.get('sort') || 'newest');
    const [offset, setOffset] = useState(Number(query.get('offset')) || 0);
    const settled = useDebounced(search.trim(), 250);
    const filters = useRef(`${settled}|${sort}`);
    useEffect(() => {  // a new search or sort starts from the first page
        if (filters.current !== `${settled}|${sort}`) setOffset(0);
        filters.current = `${settled}|${sort}`;
    }, [settled, sort]);
    useEffect(() => {
        const params = new URLSearchParams();
        if (settled) params.set('search', settled);
        if (sort !== 'newest') params.set('sort', sort);
        if (offset) params.set('offset', offset);
        const target = `${location.pathname}${params.size ? `?${params}` : ''}`;
        navigate(target, { replace: true });
    }, [settled, sort, offset]);
    const products = useAsync(
        ({ fresh }) => api('/marketplace/products', { query: { search: settled, sort, limit: LIMIT, offset }, fresh }),
        [settled, sort, offset],
    );
    return html`<section>
        <h1>Catalog</h1>
        <form class="toolbar" role="search" onSubmit=${(e) => e.preventDefault()}>
            <${Field} label="Search the catalog" type="search" value=${search} onValue=${setSearch}
                placeholder="Title, tag or description" autocomplete="off" />
            <${Field} label="Sort by" as="select" value=${sort} onValue=${setSort}>
                ${SORTS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
            <//>
        </form>
        <${AsyncView} state=${products} isEmpty=${(d) => d.products.length === 0}
            empty=${settled ? `Nothing matches “${settled}”.` : 'The catalog is empty for now.'}
            render=${(d) => html`
                <p class="meta" role="status">${d.total} product${d.total === 1 ? '' : 's'}${products.loading ? ' (updating…)' : ''}</p>
                <ul class="cards">${d.products.map((p) => html`<${ProductCard} key=${p.id} product=${p} />`)}</ul>
                <${Pager} total=${d.total} limit=${LIMIT} offset=${offset} onOffset=${setOffset} label="Catalog pages" />`} />
    </section>`;
}
