// Transfer states in words and colour, shared by the seller's and the admins' screens.
import { html } from '../lib.js';
import { Badge } from '../ui.js';

const TRANSFER = {
    pending: { kind: 'neutral', words: 'Pending' },
    completed: { kind: 'ok', words: 'Paid out' },
    failed: { kind: 'warn', words: 'Failed, will retry' },
    permanently_failed: { kind: 'danger', words: 'Failed for good' },
    reversal_pending: { kind: 'warn', words: 'Being reversed' },
    reversed: { kind: 'neutral', words: 'Reversed' },
    cancelled: { kind: 'neutral', words: 'Cancelled' },
};

export const TRANSFER_STATES = Object.keys(TRANSFER);

export function TransferBadge({ status }) {
    const { kind, words } = TRANSFER[status] || { kind: 'neutral', words: status };
    return html`<span data-testid="transfer-status" data-status=${status}><${Badge} kind=${kind}>${words}<//></span>`;
}

export function transferWords(status) {
    return (TRANSFER[status] || { words: status }).words;
}
