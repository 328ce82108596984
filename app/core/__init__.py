"""Cross-cutting pieces every domain uses: money, time, audit, permissions, errors."""
