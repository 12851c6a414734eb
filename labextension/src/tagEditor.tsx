/** Rename a run and set its tags (the PATCH runs/<id> mutation). */
import * as React from 'react';

export interface ITagEditorProps {
  name: string;
  tags: Record<string, string>;
  onChange(tags: Record<string, string>): void;
  onRename(name: string): void;
}

export function TagEditor(props: ITagEditorProps): JSX.Element {
  const [key, setKey] = React.useState('');
  const [value, setValue] = React.useState('');
  const [name, setName] = React.useState(props.name);
  React.useEffect(() => setName(props.name), [props.name]);

  const entries = Object.entries(props.tags).sort();
  return (
    <div className="jp-mlops-tags">
      {entries.length === 0 && <div className="jp-mlops-empty">No tags.</div>}
      {entries.map(([k, v]) => (
        <span key={k} className="jp-mlops-tag" title={`${k}=${v}`}>
          {k}
          {v ? `=${v}` : ''}
        </span>
      ))}
      <form
        className="jp-mlops-inline-form"
        onSubmit={e => {
          e.preventDefault();
          if (key.trim()) {
            props.onChange({ [key.trim()]: value });
            setKey('');
            setValue('');
          }
        }}
      >
        <input
          className="jp-mlops-input"
          placeholder="tag"
          value={key}
          onChange={e => setKey(e.target.value)}
        />
        <input
          className="jp-mlops-input"
          placeholder="value"
          value={value}
          onChange={e => setValue(e.target.value)}
        />
        <button className="jp-mlops-button" type="submit" disabled={!key.trim()}>
          Add tag
        </button>
      </form>
      <form
        className="jp-mlops-inline-form"
        onSubmit={e => {
          e.preventDefault();
          if (name.trim() && name !== props.name) {
            props.onRename(name.trim());
          }
        }}
      >
        <input
          className="jp-mlops-input"
          aria-label="Run name"
          value={name}
          onChange={e => setName(e.target.value)}
        />
        <button
          className="jp-mlops-button"
          type="submit"
          disabled={!name.trim() || name === props.name}
        >
          Rename
        </button>
      </form>
    </div>
  );
}
