import { useQuery } from '@tanstack/react-query';
import { useDeferredValue, useState, type InputHTMLAttributes, type KeyboardEvent } from 'react';
import { useApi } from '../lib/api-context';
import { tagsQuery } from '../lib/queries';

// A text field that suggests existing tags from GET /tags as you type (the ARIA combobox
// pattern: arrows move through the suggestions, Enter takes one, Escape closes the list). With
// `multiple` the field holds comma-separated tags and suggestions complete the last one.

interface TagComboboxProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange' | 'onSelect'> {
  id: string;
  value: string;
  onValueChange: (value: string) => void;
  /** Called with a suggestion the person took. */
  onTagChosen?: (tag: string) => void;
  multiple?: boolean;
}

export function TagCombobox({ id, value, onValueChange, onTagChosen, multiple = false, ...inputProps }: TagComboboxProps) {
  const api = useApi();
  const parts = multiple ? value.split(',') : [value];
  const current = (parts.at(-1) ?? '').trim().toLowerCase();
  const prefix = useDeferredValue(current);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const suggestions = useQuery({ ...tagsQuery(api, prefix), enabled: open && prefix.length > 0 });
  const taken = new Set(parts.slice(0, -1).map((part) => part.trim().toLowerCase()));
  const options = (suggestions.data ?? []).filter((entry) => !taken.has(entry.tag)).slice(0, 8);
  const expanded = open && prefix.length > 0 && options.length > 0;
  const listId = `${id}-suggestions`;

  const choose = (tag: string) => {
    onValueChange(multiple ? [...parts.slice(0, -1).map((part) => part.trim()).filter(Boolean), tag].join(', ') + ', ' : tag);
    setOpen(false);
    setActive(-1);
    onTagChosen?.(tag);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      setOpen(true);
      setActive((index) => Math.min(index + 1, options.length - 1));
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      setActive((index) => Math.max(index - 1, -1));
    } else if (event.key === 'Enter' && expanded && active >= 0 && options[active]) {
      event.preventDefault();
      choose(options[active].tag);
    } else if (event.key === 'Escape' && expanded) {
      event.preventDefault();
      setOpen(false);
      setActive(-1);
    }
  };

  return (
    <div className="combobox">
      <input
        {...inputProps}
        id={id}
        type="text"
        role="combobox"
        autoComplete="off"
        spellCheck={false}
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        value={value}
        onChange={(event) => {
          onValueChange(event.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setOpen(false)}
      />
      <ul id={listId} role="listbox" aria-label="Tag suggestions" className="combobox-list" hidden={!expanded}>
        {options.map((entry, index) => (
          // Keyboard use goes through the field (aria-activedescendant); the pointer picks directly.
          // eslint-disable-next-line jsx-a11y/click-events-have-key-events
          <li
            key={entry.tag}
            id={`${listId}-${index}`}
            role="option"
            tabIndex={-1}
            aria-selected={index === active}
            className={index === active ? 'active' : undefined}
            onMouseDown={(event) => event.preventDefault()}
            onClick={() => choose(entry.tag)}
          >
            <span>{entry.tag}</span> <span className="muted">{entry.count}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
