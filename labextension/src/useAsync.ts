/** Load something asynchronously in a component, ignoring answers that arrive too late. */
import * as React from 'react';

export interface IAsync<T> {
  value: T | undefined;
  error: Error | null;
  loading: boolean;
  reload(): void;
}

export function useAsync<T>(load: () => Promise<T>, deps: React.DependencyList): IAsync<T> {
  const [value, setValue] = React.useState<T | undefined>(undefined);
  const [error, setError] = React.useState<Error | null>(null);
  const [loading, setLoading] = React.useState(true);
  const [tick, setTick] = React.useState(0);

  React.useEffect(() => {
    let live = true;
    setLoading(true);
    load()
      .then(v => {
        if (live) {
          setValue(v);
          setError(null);
        }
      })
      .catch(e => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // `load` is rebuilt every render; `deps` say when it really changed.
  }, [...deps, tick]);

  const reload = React.useCallback(() => setTick(t => t + 1), []);
  return { value, error, loading, reload };
}
