/** The left sidebar widget and its tab strip. */
import { ReactWidget } from '@jupyterlab/apputils';
import {
  bellIcon,
  inspectorIcon,
  LabIcon,
  linkIcon,
  listIcon,
  tableRowsIcon,
  treeViewIcon
} from '@jupyterlab/ui-components';
import { Signal, ISignal } from '@lumino/signaling';
import * as React from 'react';
import { FeaturesTab } from './featuresTab';
import { mlopsIcon } from './icon';
import { LineageTab } from './lineageTab';
import { ModelsTab } from './modelsTab';
import { MonitoringTab } from './monitoringTab';
import { PipelinesTab } from './pipelinesTab';
import { RunsTab } from './runsTab';
import { MlopsService } from './service';

export const PANEL_ID = 'jupyter-mlops-panel';

const TABS = ['Runs', 'Models', 'Pipelines', 'Monitoring', 'Features', 'Lineage'] as const;
type Tab = (typeof TABS)[number];

const TAB_ICONS: Record<Tab, LabIcon> = {
  Runs: listIcon,
  Models: inspectorIcon,
  Pipelines: treeViewIcon,
  Monitoring: bellIcon,
  Features: tableRowsIcon,
  Lineage: linkIcon
};

/** Below this panel width the tab strip shows icons only (names stay in title/aria-label). */
export const COMPACT_TABS_WIDTH = 420;

/** The panel's width, followed as the sidebar is resized. */
function usePanelWidth(ref: React.RefObject<HTMLElement>): number {
  const [width, setWidth] = React.useState(0);
  React.useEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    setWidth(el.clientWidth);
    return () => observer.disconnect();
  }, []);
  return width;
}

export interface IPanelOptions {
  service: MlopsService;
  openNotebook(runId: string): Promise<void>;
}

export class MlopsPanel extends ReactWidget {
  private _refresh = new Signal<this, void>(this);

  constructor(private readonly _options: IPanelOptions) {
    super();
    this.id = PANEL_ID;
    this.title.icon = mlopsIcon;
    this.title.caption = 'MLOps: runs, models, pipelines, monitoring, features, lineage';
    this.addClass('jp-mlops-panel');
  }

  /** Emitted by `mlops:refresh`; every tab re-fetches. */
  get refreshRequested(): ISignal<this, void> {
    return this._refresh;
  }

  refresh(): void {
    this._refresh.emit();
  }

  protected render(): JSX.Element {
    return <PanelApp {...this._options} refreshRequested={this._refresh} />;
  }
}

function PanelApp(
  props: IPanelOptions & { refreshRequested: ISignal<MlopsPanel, void> }
): JSX.Element {
  const [tab, setTab] = React.useState<Tab>('Runs');
  const [lineageNode, setLineageNode] = React.useState('');
  const [refreshCount, setRefreshCount] = React.useState(0);
  const app = React.useRef<HTMLDivElement>(null);
  const width = usePanelWidth(app);
  const compact = width > 0 && width < COMPACT_TABS_WIDTH;
  const tabButtons = React.useRef<Partial<Record<Tab, HTMLButtonElement | null>>>({});

  React.useEffect(() => {
    const bump = () => setRefreshCount(c => c + 1);
    props.refreshRequested.connect(bump);
    return () => {
      props.refreshRequested.disconnect(bump);
    };
  }, [props.refreshRequested]);

  const showLineage = (node: string) => {
    setLineageNode(node);
    setTab('Lineage');
  };

  // Arrow keys, Home and End move between tabs (WAI-ARIA tabs pattern).
  const onTabKey = (e: React.KeyboardEvent) => {
    const i = TABS.indexOf(tab);
    const next: Record<string, number> = {
      ArrowRight: (i + 1) % TABS.length,
      ArrowLeft: (i + TABS.length - 1) % TABS.length,
      Home: 0,
      End: TABS.length - 1
    };
    if (e.key in next) {
      e.preventDefault();
      const t = TABS[next[e.key]];
      setTab(t);
      tabButtons.current[t]?.focus();
    }
  };

  return (
    <div className={`jp-mlops-app${compact ? ' jp-mlops-compact' : ''}`} ref={app}>
      <div
        className="jp-mlops-tabs"
        role="tablist"
        aria-label="MLOps views"
        onKeyDown={onTabKey}
      >
        {TABS.map(t => {
          const Icon = TAB_ICONS[t].react;
          return (
            <button
              key={t}
              ref={el => (tabButtons.current[t] = el)}
              role="tab"
              aria-selected={tab === t}
              aria-label={t}
              title={t}
              tabIndex={tab === t ? 0 : -1}
              className={`jp-mlops-tab${tab === t ? ' jp-mod-active' : ''}`}
              data-tab={t}
              onClick={() => setTab(t)}
            >
              <Icon tag="span" className="jp-mlops-tab-icon" />
              {(!compact || tab === t) && <span className="jp-mlops-tab-label">{t}</span>}
            </button>
          );
        })}
      </div>
      <div className="jp-mlops-tab-body">
        {/* Runs stays mounted so its scroll position and selection survive tab switches. */}
        <div className="jp-mlops-tab-page" style={{ display: tab === 'Runs' ? undefined : 'none' }}>
          <RunsTab
            service={props.service}
            refreshCount={refreshCount}
            onOpenNotebook={props.openNotebook}
            onShowLineage={showLineage}
          />
        </div>
        {tab === 'Models' && (
          <div className="jp-mlops-tab-page">
            <ModelsTab
              service={props.service}
              refreshCount={refreshCount}
              onShowLineage={showLineage}
            />
          </div>
        )}
        {tab === 'Pipelines' && (
          <div className="jp-mlops-tab-page">
            <PipelinesTab
              service={props.service}
              refreshCount={refreshCount}
              onOpenNotebook={props.openNotebook}
              onShowLineage={showLineage}
            />
          </div>
        )}
        {tab === 'Monitoring' && (
          <div className="jp-mlops-tab-page">
            <MonitoringTab service={props.service} refreshCount={refreshCount} />
          </div>
        )}
        {tab === 'Features' && (
          <div className="jp-mlops-tab-page">
            <FeaturesTab service={props.service} refreshCount={refreshCount} />
          </div>
        )}
        {tab === 'Lineage' && (
          <div className="jp-mlops-tab-page">
            <LineageTab
              service={props.service}
              node={lineageNode}
              onNodeChange={setLineageNode}
              refreshCount={refreshCount}
            />
          </div>
        )}
      </div>
    </div>
  );
}
