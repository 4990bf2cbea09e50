;; Built-in 'tecl': the same decision tree as the published Composer export "(see bottom block) TECL For The Long Term (v7) | Less VIX | KMLM signal boost",
;; rewritten without the export's single-child weight-equal wrappers (alchemiser fmt).
(defsymphony
  "(see bottom block) TECL For The Long Term (v7) | Less VIX | KMLM signal boost"
  {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (if (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))
    [(if (> (rsi "TQQQ" {:window 10}) 79)
      [(group "UVXY+75%BIL"
        [(weight-specified
            0.25
            (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
            0.75
            (asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF"))])]
      [(if (> (rsi "SPY" {:window 10}) 80)
        [(group "UVXY+75%BIL"
          [(weight-specified
              0.25
              (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
              0.75
              (asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF"))])]
        [(group "KMLM Switcher | SimplyGreen | No short"
          [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
              [(if (> (rsi "XLK" {:window 10}) 81)
                [(asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")]
                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")])]
              [(if (< (rsi "XLK" {:window 10}) 29)
                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                [(asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")])])])])])]
    [(if (< (rsi "TQQQ" {:window 10}) 31)
      [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
      [(if (< (rsi "SPXL" {:window 10}) 29)
        [(asset "SPXL" nil)]
        [(if (> (rsi "UVXY" {:window 10}) 74)
          [(if (> (rsi "UVXY" {:window 10}) 84)
            [(group "UVXY+85%BIL"
              [(weight-specified
                  0.15
                  (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                  0.85
                  (asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF"))])]
            [(asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")])]
          [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
            [(if (> (rsi "XLK" {:window 10}) 81)
              [(asset "BIL" "SPDR Bloomberg 1-3 Month T-Bill ETF")]
              [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")])]
            [(if (< (rsi "XLK" {:window 10}) 29)
              [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
              [(filter (rsi {:window 9}) (select-top 1)
                [(asset "SQQQ" "ProShares UltraPro Short QQQ")
                  (asset "BSV" "Vanguard Short-Term Bond ETF")])])])])])])]))
