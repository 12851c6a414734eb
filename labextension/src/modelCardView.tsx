/**
 * A model card: its HTML in a sandboxed iframe (no scripts, opaque origin; the server has
 * already escaped every value), or its Markdown as plain text.
 */
import * as React from 'react';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ErrorLine } from './useAction';

/** Theme colours resolved from the panel, so the card follows light and dark themes. */
function cardStyle(host: HTMLElement | null): string {
  const css = host ? getComputedStyle(host) : null;
  const v = (name: string, fallback: string) =>
    (css?.getPropertyValue(name) || '').trim().replace(/[;{}<>]/g, '') || fallback;
  return `
    body { margin: 8px; font-family: ${v('--jp-ui-font-family', 'sans-serif')};
      font-size: 12px; color: ${v('--jp-ui-font-color1', '#222')};
      background: ${v('--jp-layout-color1', '#fff')}; }
    h1 { font-size: 15px; margin: 0 0 6px; } h2 { font-size: 13px; margin: 12px 0 4px; }
    table { border-collapse: collapse; width: 100%; }
    th, td { border-bottom: 1px solid ${v('--jp-border-color2', '#ddd')}; padding: 2px 4px;
      text-align: left; vertical-align: top; word-break: break-word; }
    th { color: ${v('--jp-ui-font-color2', '#555')}; font-weight: 600; }
    td { font-family: ${v('--jp-code-font-family', 'monospace')}; }`;
}

export function ModelCardView(props: {
  service: MlopsService;
  name: string;
  version: number;
}): JSX.Element {
  const { service, name, version } = props;
  const card = useAsync(() => service.modelCard(name, version), [service, name, version]);
  const [format, setFormat] = React.useState<'html' | 'markdown'>('html');
  const host = React.useRef<HTMLDivElement>(null);
  const [style, setStyle] = React.useState<string | null>(null);
  const c = card.value;
  // The theme's colours are read from the mounted panel, so the frame waits for them, and
  // read again when the theme changes (else the card keeps the old theme's colours).
  React.useEffect(() => setStyle(cardStyle(host.current)), [c]);
  React.useEffect(() => {
    const observer = new MutationObserver(() => setStyle(cardStyle(host.current)));
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-light', 'data-jp-theme-name']
    });
    return () => observer.disconnect();
  }, []);
  const srcDoc =
    c && style !== null
      ? '<!doctype html><html><head><meta charset="utf-8">' +
        '<meta http-equiv="Content-Security-Policy" ' +
        `content="default-src 'none'; style-src 'unsafe-inline'">` +
        `<style>${style}</style></head><body>${c.html}</body></html>`
      : '';
  return (
    <div className="jp-mlops-card" ref={host}>
      <div className="jp-mlops-toolbar">
        {(['html', 'markdown'] as const).map(f => (
          <label key={f} className="jp-mlops-radio">
            <input type="radio" checked={format === f} onChange={() => setFormat(f)} />
            {f === 'html' ? 'Card' : 'Markdown'}
          </label>
        ))}
      </div>
      <ErrorLine error={card.error?.message} />
      {c && srcDoc && format === 'html' && (
        <iframe
          className="jp-mlops-card-frame"
          title={c.title}
          sandbox=""
          referrerPolicy="no-referrer"
          srcDoc={srcDoc}
        />
      )}
      {c && format === 'markdown' && <pre className="jp-mlops-card-markdown">{c.markdown}</pre>}
    </div>
  );
}
