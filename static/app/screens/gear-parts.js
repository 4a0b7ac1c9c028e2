// What the gear screens share: the warranty badge, amounts typed in currency units.
import { html } from '../lib.js';
import { Badge } from '../ui.js';

// Each warranty state has its own colour and its own words.
const WARRANTY = {
    active: { kind: 'ok', words: 'Under warranty' },
    expiring_soon: { kind: 'warn', words: 'Expiring soon' },
    expired: { kind: 'danger', words: 'Expired' },
    lifetime: { kind: 'info', words: 'Lifetime warranty' },
    none: { kind: 'neutral', words: 'No warranty' },
};

export function WarrantyBadge({ warranty }) {
    const { kind, words } = WARRANTY[warranty.status] || WARRANTY.none;
    let detail = '';
    if (warranty.status === 'expiring_soon' || warranty.status === 'active') {
        detail = warranty.days_left === 0 ? ' (ends today)' : ` (${warranty.days_left} ${warranty.days_left === 1 ? 'day' : 'days'} left)`;
    }
    return html`<span data-testid="warranty" data-status=${warranty.status}><${Badge} kind=${kind}>${words}${detail}<//></span>`;
}

// "12.50" -> 1250; null when empty; NaN when it is not an amount.
export function toCents(text) {
    const value = String(text ?? '').trim().replace(',', '.');
    if (!value) return null;
    if (!/^\d+(\.\d{1,2})?$/.test(value)) return Number.NaN;
    return Math.round(Number(value) * 100);
}
