/**
 * What the fake Kubernetes API server refuses with 422, in the words of the real one's
 * validation ("<field>: <Kind of problem>: ..."): only the rules the executor's objects could
 * break, so a wrong field name or value in what we send fails the tests as it would fail a cluster.
 */

type TPodSpec = {
  restartPolicy?: string;
  subdomain?: string;
  volumes?: { name?: string }[];
  containers?: { env?: { name?: string; valueFrom?: { fieldRef?: { fieldPath?: string } } }[]; volumeMounts?: { name?: string; mountPath?: string }[] }[];
};

export type TJobSpec = {
  completionMode?: string;
  completions?: number | null;
  parallelism?: number | null;
  backoffLimit?: number;
  backoffLimitPerIndex?: number;
  template?: { spec?: TPodSpec };
};

export type TServiceSpec = {
  clusterIP?: string;
  selector?: Record<string, string>;
  ports?: { name?: string; port?: number; targetPort?: number | string; protocol?: string }[];
  publishNotReadyAddresses?: boolean;
};

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** The downward-API paths a container variable may read (fieldRef.fieldPath), as the API server lists them. */
const fieldPaths = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs'];
const mapFieldPath = /^metadata\.(labels|annotations)\['([^']+)'\]$/;

/** The field a downward-API path reads, or null when the API server would refuse it. */
export function parseFieldPath(path: string): { field: string } | { map: 'labels' | 'annotations'; key: string } | null {
  if (fieldPaths.includes(path)) return { field: path };
  const match = mapFieldPath.exec(path);
  return match ? { map: match[1] as 'labels' | 'annotations', key: match[2]! } : null;
}

/** A pod template's volumes, mounts, restart policy, subdomain and downward-API variables; null when valid. */
export function podTemplateProblem(podSpec: TPodSpec): string | null {
  const at = 'spec.template.spec';
  if (podSpec.restartPolicy !== 'Never' && podSpec.restartPolicy !== 'OnFailure') return `${at}.restartPolicy: Required value: valid values: "OnFailure", "Never"`;
  if (podSpec.subdomain !== undefined && (!dns1123Label.test(podSpec.subdomain) || podSpec.subdomain.length > 63)) {
    return `${at}.subdomain: Invalid value: "${podSpec.subdomain}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`;
  }
  const names = new Set<string>();
  for (const [i, volume] of (podSpec.volumes ?? []).entries()) {
    if (names.has(volume.name ?? '')) return `${at}.volumes[${i}].name: Duplicate value: "${volume.name}"`;
    names.add(volume.name ?? '');
  }
  for (const [c, container] of (podSpec.containers ?? []).entries()) {
    const paths = new Set<string>();
    for (const [i, mount] of (container.volumeMounts ?? []).entries()) {
      if (!names.has(mount.name ?? '')) return `${at}.containers[${c}].volumeMounts[${i}].name: Not found: "${mount.name}"`;
      if (paths.has(mount.mountPath ?? '')) return `${at}.containers[${c}].volumeMounts[${i}].mountPath: Invalid value: "${mount.mountPath}": must be unique`;
      paths.add(mount.mountPath ?? '');
    }
    for (const [i, entry] of (container.env ?? []).entries()) {
      const path = entry.valueFrom?.fieldRef?.fieldPath;
      if (entry.valueFrom?.fieldRef && (path === undefined || !parseFieldPath(path))) return `${at}.containers[${c}].env[${i}].valueFrom.fieldRef.fieldPath: Unsupported value: "${path}"`;
    }
  }
  return null;
}

const nonNegativeInteger = (n: unknown) => n === undefined || n === null || (Number.isInteger(n) && (n as number) >= 0);

/** A Job spec's completion mode, counts and pod template; null when valid. */
export function jobSpecProblem(spec: TJobSpec): string | null {
  const mode = spec.completionMode ?? 'NonIndexed';
  if (mode !== 'NonIndexed' && mode !== 'Indexed') return `spec.completionMode: Unsupported value: "${mode}": supported values: "NonIndexed", "Indexed"`;
  for (const field of ['completions', 'parallelism', 'backoffLimit', 'backoffLimitPerIndex'] as const) {
    if (!nonNegativeInteger(spec[field])) return `spec.${field}: Invalid value: ${String(spec[field])}: must be greater than or equal to 0`;
  }
  if (mode === 'Indexed') {
    if (spec.completions === undefined || spec.completions === null) return 'spec.completions: Required value: when completion mode is Indexed';
    if ((spec.parallelism ?? 1) > 100_000) return `spec.parallelism: Invalid value: ${spec.parallelism}: must be less than or equal to 100000 when completion mode is Indexed`;
  } else if (spec.backoffLimitPerIndex !== undefined) {
    return 'spec.backoffLimitPerIndex: Forbidden: requires indexed completion mode';
  }
  return podTemplateProblem(spec.template?.spec ?? {});
}

/** A Service's name, cluster IP and ports; null when valid. */
export function serviceProblem(name: string | undefined, spec: TServiceSpec | undefined): string | null {
  if (!name || !dns1035Label.test(name) || name.length > 63) return `metadata.name: Invalid value: "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`;
  const clusterIP = spec?.clusterIP;
  if (clusterIP !== undefined && clusterIP !== '' && clusterIP !== 'None' && !/^[0-9a-f.:]+$/i.test(clusterIP)) return `spec.clusterIPs[0]: Invalid value: "${clusterIP}": must be a valid IP address or "None"`;
  const ports = spec?.ports ?? [];
  if (ports.length === 0 && clusterIP !== 'None') return 'spec.ports: Required value';
  for (const [i, port] of ports.entries()) {
    if (!Number.isInteger(port.port) || port.port! < 1 || port.port! > 65535) return `spec.ports[${i}].port: Invalid value: ${port.port}: must be between 1 and 65535, inclusive`;
    if (port.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) return `spec.ports[${i}].protocol: Unsupported value: "${port.protocol}": supported values: "SCTP", "TCP", "UDP"`;
    if (ports.length > 1 && !port.name) return `spec.ports[${i}].name: Required value`;
    if (port.name !== undefined && !dns1123Label.test(port.name)) return `spec.ports[${i}].name: Invalid value: "${port.name}"`;
  }
  return null;
}

/** An ownerReferences list as metadata validation checks it; null when valid. */
export function ownerReferencesProblem(references: unknown): string | null {
  if (references === undefined || references === null) return null;
  if (!Array.isArray(references)) return 'metadata.ownerReferences: Invalid value: must be a list';
  for (const [i, reference] of (references as Record<string, unknown>[]).entries()) {
    for (const field of ['apiVersion', 'kind', 'name', 'uid']) {
      if (typeof reference[field] !== 'string' || reference[field] === '') return `metadata.ownerReferences[${i}].${field}: Invalid value: "": ${field} must not be empty`;
    }
  }
  return null;
}
