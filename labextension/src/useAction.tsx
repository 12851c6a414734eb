/** Run a mutation from a button: one at a time, its error kept for an inline message. */
import * as React from 'react';

export interface IAction {
  busy: boolean;
  error: string | null;
  run(what: () => Promise<unknown>): void;
  clear(): void;
}

export function useAction(): IAction {
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const mounted = React.useRef(true);
  React.useEffect(
    () => () => {
      mounted.current = false;
    },
    []
  );
  const run = React.useCallback((what: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    what()
      .catch(e => mounted.current && setError(e?.message ?? String(e)))
      .finally(() => mounted.current && setBusy(false));
  }, []);
  const clear = React.useCallback(() => setError(null), []);
  return { busy, error, run, clear };
}

/** The inline error line every tab uses (text only). */
export function ErrorLine(props: { error: string | null | undefined }): JSX.Element | null {
  return props.error ? (
    <div className="jp-mlops-error" role="alert">
      {props.error}
    </div>
  ) : null;
}
