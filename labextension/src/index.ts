/** Plugin entry: the MLOps side panel and its palette commands. */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { mlopsIcon } from './icon';
import { openNotebookSnapshot } from './notebookSnapshot';
import { MlopsPanel, PANEL_ID } from './panel';
import { MlopsService } from './service';

namespace CommandIDs {
  export const openPanel = 'mlops:open-panel';
  export const refresh = 'mlops:refresh';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:panel',
  description: 'MLOps side panel: runs, compare, models, pipelines, lineage.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const service = new MlopsService();
    const panel = new MlopsPanel({
      service,
      openNotebook: runId =>
        openNotebookSnapshot(app, service, runId).catch(err => {
          void showErrorMessage('Cannot open the run notebook', err.message ?? String(err));
        })
    });
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'MLOps: Open Panel',
      icon: mlopsIcon,
      execute: () => app.shell.activateById(PANEL_ID)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'MLOps: Refresh',
      execute: () => panel.refresh()
    });
    for (const command of [CommandIDs.openPanel, CommandIDs.refresh]) {
      palette?.addItem({ command, category: 'MLOps' });
    }
  }
};

export default plugin;
