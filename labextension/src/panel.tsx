/** The left sidebar widget and its tab strip. */
import { ReactWidget } from '@jupyterlab/apputils';
import { Signal, ISignal } from '@lumino/signaling';
import * as React from 'react';
import { mlopsIcon } from './icon';
import { LineageTab } from './lineageTab';
import { ModelsTab } from './modelsTab';
import { MonitoringTab } from './monitoringTab';
import { PipelinesTab } from './pipelinesTab';
import { RunsTab } from './runsTab';
import { MlopsService } from './service';

export const PANEL_ID = 'jupyter-mlops-panel';

const TABS = ['Runs', 'Models', 'Pipelines', 'Monitoring', 'Lineage'] as const;
type Tab = (typeof TABS)[number];

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
    this.title.caption = 'MLOps: runs, models, pipelines, monitoring, lineage';
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

  return (
    <div className="jp-mlops-app">
      <div className="jp-mlops-tabs" role="tablist">
        {TABS.map(t => (
          <button
            key={t}
            role="tab"
            aria-selected={tab === t}
            className={`jp-mlops-tab${tab === t ? ' jp-mod-active' : ''}`}
            data-tab={t}
            onClick={() => setTab(t)}
          >
            {t}
          </button>
        ))}
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
