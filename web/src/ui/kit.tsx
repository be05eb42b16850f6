import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from '../errors';

export function Page({
  title,
  description,
  actions,
  children,
}: {
  title: string;
  description?: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
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
  return <span class={`badge badge-${status.toLowerCase().replace(/\s+/g, '')}`}>{status}</span>;
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

/**
 * A data table in a horizontally scrolling frame: a caption for screen readers, the column headers,
 * and (with `actions`) a last column whose header only screen readers read.
 */
export function Table({ caption, columns, actions = false, children }: { caption: string; columns: string[]; actions?: boolean; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class="table">
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
            {actions && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A labelled select, as the toolbars' filters use it. */
export function SelectField<T extends string>({
  id,
  label,
  value,
  options,
  onChange,
}: {
  id: string;
  label: string;
  value: T;
  options: [T, string][];
  onChange: (value: T) => void;
}) {
  return (
    <div class="field-inline">
      <label for={id}>{label}</label>
      <select id={id} class="input" value={value} onChange={(event) => onChange(event.currentTarget.value as T)}>
        {options.map(([option, text]) => (
          <option key={option} value={option}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

export const STATUS_FILTERS: ['active' | 'expired' | 'revoked', string][] = [
  ['active', 'Active'],
  ['expired', 'Expired'],
  ['revoked', 'Revoked'],
];

/** Loads once per change of `deps`; `reload` after a change. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<unknown>();
  const reload = async () => {
    setError(undefined);
    try {
      setValue(await load());
    } catch (caught) {
      setError(caught);
    }
  };
  useEffect(() => {
    void reload();
  }, deps);
  return { value, error, reload };
}

/**
 * A form whose submit runs an action: the button is disabled while it runs and what it throws (an
 * ApiError in words, or a check that failed before sending) is announced above the button.
 */
export function ActionForm({
  label,
  danger = false,
  onSubmit,
  children,
}: {
  label: string;
  danger?: boolean;
  onSubmit: () => Promise<void>;
  children: ComponentChildren;
}) {
  const [busy, error, run] = useAction();
  return (
    <form
      class="stack"
      onSubmit={(event) => {
        event.preventDefault();
        void run(onSubmit);
      }}
    >
      {children}
      <Alert error={error} />
      <div class="form-actions">
        <button type="submit" class={danger ? 'button button-danger' : 'button button-primary'} disabled={busy}>
          {label}
        </button>
      </div>
    </form>
  );
}

/** A labelled text input. */
export function TextField({
  id,
  label,
  value,
  onInput,
  required = false,
  maxLength,
  placeholder,
}: {
  id: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  required?: boolean;
  maxLength?: number;
  placeholder?: string;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        class="input"
        required={required}
        maxLength={maxLength}
        placeholder={placeholder}
        value={value}
        onInput={(event) => onInput(event.currentTarget.value)}
      />
    </div>
  );
}

/** A labelled whole-number input, beside its neighbours. */
export function NumberField({
  id,
  label,
  value,
  min,
  max,
  onInput,
}: {
  id: string;
  label: string;
  value: number | undefined;
  min: number;
  max?: number;
  onInput: (value: number) => void;
}) {
  return (
    <div class="field-inline">
      <label for={id}>{label}</label>
      <input
        id={id}
        class="input input-narrow"
        type="number"
        required
        min={min}
        max={max}
        value={value ?? ''}
        onInput={(event) => onInput(Number(event.currentTarget.value))}
      />
    </div>
  );
}
