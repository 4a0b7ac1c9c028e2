// The one place the vendored library is imported: screens import { html, useState, ... } from '../lib.js'.
import { h } from '../vendor/preact.mjs';
import htm from '../vendor/htm.mjs';

export { h, render, Fragment, createContext } from '../vendor/preact.mjs';
export {
    useState, useEffect, useRef, useMemo, useCallback, useContext, useReducer, useId, useLayoutEffect,
} from '../vendor/hooks.mjs';

export const html = htm.bind(h);
