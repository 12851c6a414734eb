/** One registered model: versions with alias badges, promotion requests, gates, audit log. */
import * as React from 'react';
import { AliasBadge } from './aliasBadge';
import { AuditLog } from './auditLog';
import { KeyValueTable, Section } from './keyValueTable';
import { PromotionList } from './promotionList';
import { ProposeForm } from './proposeForm';
import { IIdentity } from './registryTypes';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ErrorLine, useAction } from './useAction';
import { VersionsTable } from './versionsTable';

export interface IModelViewProps {
  service: MlopsService;
  name: string;
  identity: IIdentity | null;
  refreshCount: number;
  onBack(): void;
  onOpenVersion(version: number): void;
}

function roleHint(identity: IIdentity | null, action: string): string {
  if (!identity) {
    return '';
  }
  return identity.actions.includes(action)
    ? ''
    : `${identity.user} may not ${action}: ask an admin for a role that allows it ` +
        `(jupyter mlops models grant ${identity.user} ROLE).`;
}

export function ModelView(props: IModelViewProps): JSX.Element {
  const { service, name, identity } = props;
  const model = useAsync(() => service.getModel(name), [service, name, props.refreshCount]);
  const audit = useAsync(() => service.modelAudit(name), [service, name, props.refreshCount]);
  const [proposing, setProposing] = React.useState<number | null>(null);
  const action = useAction();
  const reload = () => {
    model.reload();
    audit.reload();
  };
  const can = (a: string) => identity?.actions.includes(a) ?? false;

  const m = model.value;
  return (
    <div className="jp-mlops-model jp-mlops-scroll-page" data-model={name}>
      <div className="jp-mlops-toolbar">
        <button className="jp-mlops-button jp-mlops-back" onClick={props.onBack}>
          ← Models
        </button>
        <span className="jp-mlops-muted jp-mlops-identity" title={identityTitle(identity)}>
          {identity ? `acting as ${identity.user} (${identity.roles.join(', ') || 'no role'})` : ''}
        </span>
      </div>
      <h3 className="jp-mlops-run-title">
        <span className="jp-mlops-model-name">{name}</span>
        {m &&
          Object.entries(m.aliases).map(([a, v]) => <AliasBadge key={a} alias={a} version={v} />)}
      </h3>
      {m?.description && <div className="jp-mlops-muted">{m.description}</div>}
      <ErrorLine error={model.error?.message} />
      <ErrorLine error={action.error} />
      {m && (
        <>
          <Section title="Versions" count={m.versions.length}>
            {proposing !== null && (
              <ProposeForm
                version={proposing}
                aliases={Object.keys(m.aliases)}
                busy={action.busy}
                onCancel={() => setProposing(null)}
                onSubmit={(alias, reason) =>
                  action.run(() =>
                    service.propose(name, proposing, alias, reason).then(() => {
                      setProposing(null);
                      reload();
                    })
                  )
                }
              />
            )}
            <VersionsTable
              versions={m.versions}
              canPropose={can('propose')}
              proposeTitle={roleHint(identity, 'propose') || 'Ask for an alias to point here'}
              onPropose={v => {
                action.clear();
                setProposing(v);
              }}
              onOpen={props.onOpenVersion}
            />
          </Section>
          <Section
            title="Promotion requests"
            count={m.promotions.filter(p => p.status === 'PENDING').length}
          >
            <PromotionList
              promotions={m.promotions}
              canDecide={can('approve')}
              decideTitle={roleHint(identity, 'approve')}
              busy={action.busy}
              onDecide={(id, approve) =>
                action.run(() =>
                  service.decide(id, approve).then(reload, e => {
                    reload(); // a refused gate is recorded: show it
                    throw e;
                  })
                )
              }
            />
          </Section>
          <Section title="Promotion gates" defaultOpen={false}>
            <KeyValueTable
              entries={Object.entries(m.gate_policy ?? {}).map(([k, v]) => [k, JSON.stringify(v)])}
              empty="No gates: any approved request moves its alias."
            />
          </Section>
        </>
      )}
      <Section title="Audit log" count={audit.value?.length}>
        <ErrorLine error={audit.error?.message} />
        {audit.value && <AuditLog events={audit.value} />}
      </Section>
    </div>
  );
}

function identityTitle(identity: IIdentity | null): string {
  if (!identity) {
    return '';
  }
  const who =
    identity.source === 'jupyter'
      ? 'your Jupyter user'
      : 'the server’s own identity (MLOPS_USER or its OS user), as token login has no user names';
  return `Registry actions act as ${who}. Allowed: ${identity.actions.join(', ') || 'none'}.`;
}
