import { notFound } from 'next/navigation';
import { requireSignedIn } from '@/app/_trpc/server';
import { AuditLog } from './audit-log';

export const metadata = { title: 'Audit log · Pairwise' };

export default async function AuditPage() {
  const user = await requireSignedIn('/admin/audit');
  // Like every platform-admin page: to others it does not exist.
  if (user.role !== 'admin') notFound();
  return <AuditLog />;
}
