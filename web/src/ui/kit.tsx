import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from '../errors';

export function Page({ title, description, actions, children }: { title: string; description?: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Gatehouse`;
  }, [title]);
  return (
    <section aria-labelledby="page-title">
      <div class="page-header">
        <div>
          <h1 id="page-title">{title}</h1>
          {description && <p class="page-description">{description}</p>}
        </div>
        {actions && <div class="page-actions">{actions}</div>}
      </div>
      {children}
    </section>
  );
}

export function Alert({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="message message-error" role="alert">
      {messageOf(error)}
    </p>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p class="message message-info" role="status">
      {children}
    </p>
  );
}

/** A modal dialog on the native <dialog>: focus moves in, Escape closes, focus returns on close. */
export function Dialog({ title, open, onClose, children }: { title: string; open: boolean; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  const id = `dialog-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <dialog ref={ref} class="dialog" aria-labelledby={id} onClose={onClose}>
      <div class="dialog-header">
        <h2 id={id}>{title}</h2>
        <button type="button" class="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      {open && children}
    </dialog>
  );
}

/** Runs an action, tracking busy state and the error to show. */
export function useAction(): [boolean, unknown, (action: () => Promise<void>) => Promise<void>, () => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return [busy, error, run, () => setError(undefined)];
}

/**
 * A list that pages through the API: the first page on load, more on request, never everything.
 * `load` gets the continuation token of the previous page.
 */
export function usePaged<T>(load: (continuation: string | undefined) => Promise<{ items: T[]; continuation: string | null | undefined }>, deps: unknown[]) {
  const [items, setItems] = useState<T[]>();
  const [continuation, setContinuation] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const fetchPage = async (token: string | undefined, replace: boolean) => {
    setLoading(true);
    setError(undefined);
    try {
      const page = await load(token);
      setItems((current) => (replace ? page.items : [...(current ?? []), ...page.items]));
      setContinuation(page.continuation || undefined);
    } catch (caught) {
      setError(caught);
      if (replace) setItems([]);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void fetchPage(undefined, true);
  }, deps);
  return {
    items,
    error,
    loading,
    hasMore: continuation !== undefined,
    more: () => fetchPage(continuation, false),
    reload: () => fetchPage(undefined, true),
  };
}

export function MoreButton({ hasMore, loading, onClick }: { hasMore: boolean; loading: boolean; onClick: () => void }) {
  if (!hasMore) return null;
  return (
    <button type="button" class="button" disabled={loading} onClick={onClick}>
      {loading ? 'Loading…' : 'Load more'}
    </button>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status.toLowerCase()}`}>{status}</span>;
}

export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  const id = `copy-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <div class="copy-row">
        <input id={id} class="input mono" readOnly value={value} onFocus={(event) => event.currentTarget.select()} />
        <button
          type="button"
          class="button"
          onClick={() =>
            void navigator.clipboard
              .writeText(value)
              .then(() => setCopied(true))
              .catch(() => setCopied(false))
          }
        >
          Copy
        </button>
      </div>
      <span role="status" class="hint">
        {copied ? 'Copied to the clipboard.' : ''}
      </span>
    </div>
  );
}
