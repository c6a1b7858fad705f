/**
 * A minimal document for the unit tests of components (vitest runs them in Node, without a DOM): just what d3's
 * create/append/attr/style/text and Element.append(string) use. Elements record their attributes, styles,
 * children and text, so a test reads back the structure a component built.
 */
const XHTML = "http://www.w3.org/1999/xhtml";

export class FakeElement {
  readonly attributes = new Map<string, string>();
  readonly styles = new Map<string, string>();
  readonly children: (FakeElement | string)[] = [];
  parentNode: FakeElement | null = null;
  readonly style = {
    setProperty: (name: string, value: string) => void this.styles.set(name, String(value)),
    removeProperty: (name: string) => void this.styles.delete(name),
    getPropertyValue: (name: string) => this.styles.get(name) ?? "",
  };

  constructor(
    readonly ownerDocument: FakeDocument,
    readonly namespaceURI: string,
    readonly localName: string,
  ) {}

  get nodeName(): string {
    return this.localName.toUpperCase();
  }
  setAttribute(name: string, value: unknown): void {
    this.attributes.set(name, String(value));
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  removeAttribute(name: string): void {
    this.attributes.delete(name);
  }
  appendChild(child: FakeElement): FakeElement {
    child.parentNode = this;
    this.children.push(child);
    return child;
  }
  append(...nodes: (FakeElement | string)[]): void {
    for (const n of nodes) {
      if (typeof n === "string") this.children.push(n);
      else this.appendChild(n);
    }
  }
  get textContent(): string {
    return this.children.map((c) => (typeof c === "string" ? c : c.textContent)).join("");
  }
  set textContent(text: string) {
    this.children.length = 0;
    if (text) this.children.push(String(text));
  }
  /** child elements named `name`, depth first */
  all(name: string): FakeElement[] {
    const out: FakeElement[] = [];
    for (const c of this.children) {
      if (typeof c === "string") continue;
      if (c.localName === name) out.push(c);
      out.push(...c.all(name));
    }
    return out;
  }
}

export class FakeDocument {
  readonly documentElement: FakeElement = new FakeElement(this, XHTML, "html");
  createElement(name: string): FakeElement {
    return new FakeElement(this, XHTML, name);
  }
  createElementNS(uri: string, name: string): FakeElement {
    return new FakeElement(this, uri, name);
  }
}

/** Run `fn` with a FakeDocument as the global `document`. */
export function withFakeDocument<T>(fn: () => T): T {
  const g = globalThis as { document?: unknown };
  const saved = g.document;
  g.document = new FakeDocument();
  try {
    return fn();
  } finally {
    if (saved === undefined) delete g.document;
    else g.document = saved;
  }
}
