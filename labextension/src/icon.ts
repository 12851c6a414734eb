/** The sidebar icon: a small line chart inside a flask outline. */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="none" stroke="#616161" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
    <path d="M9 3h6M10 3v6L4.5 19a1.5 1.5 0 0 0 1.3 2h12.4a1.5 1.5 0 0 0 1.3-2L14 9V3"/>
    <path d="M7.5 15l3-2.5 2.5 2 3.5-3.5"/>
  </g>
</svg>`;

export const mlopsIcon = new LabIcon({ name: 'jupyter-mlops:panel', svgstr: svg });
