/** Ask for an alias to point at a version (POST models/<name>/promotions). */
import * as React from 'react';

export function ProposeForm(props: {
  version: number;
  aliases: string[];
  busy: boolean;
  onSubmit(alias: string, reason: string): void;
  onCancel(): void;
}): JSX.Element {
  const [alias, setAlias] = React.useState('champion');
  const [reason, setReason] = React.useState('');
  return (
    <form
      className="jp-mlops-propose-form"
      onSubmit={e => {
        e.preventDefault();
        props.onSubmit(alias.trim(), reason.trim());
      }}
    >
      <span className="jp-mlops-strong">Propose v{props.version} for</span>
      <input
        className="jp-mlops-input jp-mlops-propose-alias"
        aria-label="Alias"
        list="jp-mlops-alias-options"
        value={alias}
        onChange={e => setAlias(e.target.value)}
      />
      <datalist id="jp-mlops-alias-options">
        {props.aliases.map(a => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <input
        className="jp-mlops-input jp-mlops-propose-reason"
        aria-label="Reason"
        placeholder="why (shown in the audit log)"
        value={reason}
        onChange={e => setReason(e.target.value)}
      />
      <button
        className="jp-mlops-button jp-mlops-primary"
        type="submit"
        disabled={props.busy || !alias.trim()}
      >
        Propose
      </button>
      <button className="jp-mlops-button" type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </form>
  );
}
