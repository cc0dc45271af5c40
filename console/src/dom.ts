// Tiny DOM helpers. Everything is built with createElement and text nodes:
// no string is ever parsed as HTML (the page's CSP requires Trusted Types, so
// innerHTML would be refused anyway), which keeps user data from becoming markup.
import { unixSecondsLabel } from "./dates.js";

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined | ((event: Event) => void)>;

/** Creates an element: attributes (true = present, false/undefined = absent), "on<event>" listeners, children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else if (typeof value === "string") el.setAttribute(name, value);
  }
  el.append(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return el;
}

let nextId = 0;
/** A page-unique id for label/field pairs. */
export function uid(prefix: string): string {
  return `${prefix}-${++nextId}`;
}

export interface Field {
  wrapper: HTMLDivElement;
  input: HTMLInputElement;
}

/** A labelled input with an optional hint, linked by for/id and aria-describedby. */
export function field(label: string, attrs: Attrs, hint?: string): Field {
  const id = uid("f");
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h("input", { id, "aria-describedby": hintId, ...attrs });
  const wrapper = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    input,
  );
  return { wrapper, input };
}

/** A heading that can take focus, so a screen reader lands on the new view's title. */
export function viewHeading(text: string): HTMLHeadingElement {
  return h("h2", { tabindex: "-1", class: "view-title" }, text);
}

const running = new WeakSet<HTMLElement>();

/**
 * Runs an async action for a form or button, once at a time: a second submit
 * while the first call runs is ignored, so a double click does not send the
 * call twice. Buttons stay enabled (disabling them would drop keyboard focus).
 */
export async function busy(container: HTMLElement, action: () => Promise<void>): Promise<void> {
  if (running.has(container)) return;
  running.add(container);
  container.setAttribute("aria-busy", "true");
  try {
    await action();
  } finally {
    running.delete(container);
    container.removeAttribute("aria-busy");
  }
}

/** Unix seconds (int64 as bigint) as a <time> element in the reader's locale. */
export function time(seconds: bigint): HTMLTimeElement {
  const { iso, text } = unixSecondsLabel(seconds);
  return h("time", iso === undefined ? {} : { datetime: iso }, text);
}
