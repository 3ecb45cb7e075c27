'use client';

const rows: [string, string][] = [
  ['A or ←, B or →', 'pairs: choose Response A (left) or B (right)'],
  ['1 – 4', 'significantly better, better, slightly better, marginally better'],
  ['A … H', 'rankings: place that response at the next rank (again: take it out)'],
  ['= then a letter', 'rankings: tie it with the last rank (where the project allows ties)'],
  ['Backspace', 'rankings: take out the last placed response'],
  ['E', 'edit the chosen response (once chosen or fully ranked)'],
  ['S', 'skip this comparison, with a reason'],
  ['Enter', 'submit and go to the next comparison (Ctrl+Enter from a text field)'],
  ['?', 'show or hide this help'],
];

export function KeyboardHelp({ onClose }: { onClose: () => void }) {
  return (
    <div role="dialog" aria-label="Keyboard help" className="mb-4 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow">
      <div className="mb-2 flex items-center justify-between">
        <h2 className="font-semibold">Keyboard</h2>
        <button type="button" onClick={onClose} className="text-slate-500 hover:text-slate-900">
          Close
        </button>
      </div>
      <table>
        <tbody>
          {rows.map(([key, what]) => (
            <tr key={key}>
              <td className="pr-6 font-mono whitespace-nowrap">{key}</td>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
