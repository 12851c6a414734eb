/**
 * Windowed loading of the runs list: only the pages covering the visible rows
 * are fetched (and a bounded number kept), so 100,000 runs cost a few requests.
 */
import * as React from 'react';
import { ApiError } from './api';
import { MlopsService } from './service';
import { IRun } from './types';

export const PAGE_SIZE = 100;
/** Pages kept in memory; the farthest from the viewport are dropped first. */
const MAX_CACHED_PAGES = 40;

export interface IRunsSelection {
  filter: string;
  experiment: string;
  orderBy: string[];
}

export interface IRunsWindow {
  /** Total matching runs, `null` until the first page arrives. */
  total: number | null;
  error: ApiError | Error | null;
  /** The server's hint about the filter (e.g. unknown keys and the closest known ones). */
  hint: string | null;
  loading: boolean;
  /** The run at absolute row `index`, or undefined while its page loads. */
  rowAt(index: number): IRun | undefined;
  /** Tell the window which rows are on screen: it fetches what is missing. */
  setVisible(first: number, last: number): void;
  /** Re-fetch the visible pages (keeps the rest), e.g. while runs are live. */
  refresh(): void;
}

export function useRunsWindow(service: MlopsService, selection: IRunsSelection): IRunsWindow {
  const pages = React.useRef(new Map<number, IRun[]>());
  const inFlight = React.useRef(new Set<number>());
  const generation = React.useRef(0);
  const visible = React.useRef<[number, number]>([0, PAGE_SIZE - 1]);
  const [total, setTotal] = React.useState<number | null>(null);
  // An error is kept with the query it answered, so a stale one is never shown for a new query.
  const [failure, setFailure] = React.useState<{ key: string; error: ApiError | Error } | null>(
    null
  );
  const [hint, setHint] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(false);
  const [, setVersion] = React.useState(0);
  const selectionKey = JSON.stringify(selection);

  const fetchPage = React.useCallback(
    (page: number, force = false) => {
      if (inFlight.current.has(page) || (!force && pages.current.has(page))) {
        return;
      }
      const gen = generation.current;
      inFlight.current.add(page);
      setLoading(true);
      service
        .listRuns({
          filter: selection.filter || undefined,
          experiment: selection.experiment || undefined,
          orderBy: selection.orderBy,
          limit: PAGE_SIZE,
          offset: page * PAGE_SIZE
        })
        .then(result => {
          if (gen !== generation.current) {
            return;
          }
          pages.current.set(page, result.runs);
          evictFarPages(pages.current, page);
          setTotal(result.total);
          setHint(result.hint ?? null);
          setFailure(null);
        })
        .catch(err => {
          if (gen === generation.current) {
            setFailure({ key: selectionKey, error: err });
          }
        })
        .finally(() => {
          if (gen === generation.current) {
            inFlight.current.delete(page);
            setLoading(inFlight.current.size > 0);
            setVersion(v => v + 1);
          }
        });
    },
    // The selection is captured through its key: a new query is a new window.
    [service, selectionKey]
  );

  const pagesInView = React.useCallback((): number[] => {
    const [first, last] = visible.current;
    const out: number[] = [];
    for (
      let p = Math.floor(first / PAGE_SIZE);
      p <= Math.floor(Math.max(first, last) / PAGE_SIZE);
      p++
    ) {
      out.push(p);
    }
    return out;
  }, []);

  // A new filter / sort / experiment starts from an empty window.
  React.useEffect(() => {
    generation.current++;
    pages.current.clear();
    inFlight.current.clear();
    setTotal(null);
    setFailure(null);
    setHint(null);
    visible.current = [0, PAGE_SIZE - 1];
    fetchPage(0);
  }, [fetchPage]);

  const setVisible = React.useCallback(
    (first: number, last: number) => {
      visible.current = [first, last];
      for (const p of pagesInView()) {
        fetchPage(p);
      }
    },
    [fetchPage, pagesInView]
  );

  const refresh = React.useCallback(() => {
    for (const p of pagesInView()) {
      fetchPage(p, true);
    }
  }, [fetchPage, pagesInView]);

  const rowAt = React.useCallback(
    (index: number) => pages.current.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE],
    []
  );

  const error = failure && failure.key === selectionKey ? failure.error : null;
  return { total, error, hint, loading, rowAt, setVisible, refresh };
}

function evictFarPages(pages: Map<number, IRun[]>, around: number): void {
  if (pages.size <= MAX_CACHED_PAGES) {
    return;
  }
  const byDistance = [...pages.keys()].sort((a, b) => Math.abs(b - around) - Math.abs(a - around));
  for (const p of byDistance.slice(0, pages.size - MAX_CACHED_PAGES)) {
    pages.delete(p);
  }
}
